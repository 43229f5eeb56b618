#!/usr/bin/env python3
"""Counts error answers a client receives whole, against answers lost to a reset.

    lost_answers.py --port=18080 --case=uri --trials=40
    answers case=uri trials=40 whole=40 reset=0 other=0

Each trial opens a connection, sends one request the server must refuse
before reading all of it, and then reads to end of stream:

  uri       GET with a 70 KB request target (the server answers 414)
  body      POST / with a 1 MiB body, which the server refuses unread: 405
            (a GET-only resource) or 413 (over its body limit)
  pipeline  a malformed request followed at once by 64 KB of pipelined
            requests (400)

The request is written from a second thread while the first reads, as a
browser or curl does, so a server that answers before reading everything is
not stuck behind a full socket buffer. A trial counts as `whole` when the
bytes read before end of stream hold a complete answer (status line, head,
Content-Length body) with an expected status and end in a clean end of
stream; `reset` when the read ends in ECONNRESET (the kernel may discard the
answer, and a client reading to end of stream sees an error either way);
`other` for anything else (wrong status, a truncated answer).

Exit status 0 if every trial was whole, 1 otherwise.
"""
import argparse
import socket
import sys
import threading

CASES = {
    "uri": ({414}, lambda: b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    "body": (
        {405, 413},
        lambda: b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"
        + b"b" * 1048576,
    ),
    "pipeline": (
        {400},
        lambda: b"GET / HTTP/1.1\r\nHost : x\r\n\r\n"
        + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 2300,
    ),
}


def complete_answer(data, statuses):
    """True if `data` starts with one whole answer carrying one of `statuses`."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return False
    head = data[:end].decode("latin-1").split("\r\n")
    parts = head[0].split(" ")
    if len(parts) < 2 or not parts[1].isdigit() or int(parts[1]) not in statuses:
        return False
    length = 0
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return len(data) >= end + 4 + length


def trial(port, status, request, timeout):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    # Write from another thread: the answer may come before the request is
    # all out, and a reset may end the write.
    def send():
        try:
            s.sendall(request)
        except OSError:
            pass

    writer = threading.Thread(target=send)
    writer.start()
    got = b""
    outcome = None
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except ConnectionResetError:
        outcome = "reset"
    except OSError:
        outcome = "other"
    if outcome is None:
        outcome = "whole" if complete_answer(got, status) else "other"
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    writer.join()
    s.close()
    return outcome


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--case", choices=sorted(CASES), default="uri")
    p.add_argument("--trials", type=int, default=40)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per trial")
    a = p.parse_args()
    status, make = CASES[a.case]
    request = make()
    counts = {"whole": 0, "reset": 0, "other": 0}
    for _ in range(a.trials):
        try:
            counts[trial(a.port, status, request, a.timeout)] += 1
        except OSError:
            counts["other"] += 1
    print(
        f"answers case={a.case} trials={a.trials} whole={counts['whole']} "
        f"reset={counts['reset']} other={counts['other']}"
    )
    return 0 if counts["whole"] == a.trials else 1


if __name__ == "__main__":
    sys.exit(main())
