#!/usr/bin/env python3
"""Holds many idle HTTP/1.1 keep-alive connections open to one server.

    idle_conns.py --port=18480 --path=/100b.bin --conns=10000
    ready 10000                      (stdout, once every connection is idle)
    still_open 10000                 (stdout, on SIGTERM or SIGINT, then exit)

Each connection connects, sends one GET for --path, reads the whole answer
(which must be 200 with a Content-Length and no `Connection: close`), and
then stays open without sending anything more. At most --window connections
are between connect and the end of their answer at a time, so the server's
listen backlog never overflows. Once all are idle the program prints
`ready N` and waits; static_bench.sh reads the server's RSS at that point
and then sends SIGTERM. A connection the server closes while idle is
counted out of `still_open`.

Exit status 1, with the reason on stderr, if a connection fails or gets a
bad answer before `ready`.
"""
import argparse
import errno
import resource
import selectors
import signal
import socket
import sys
import time


def fail(msg):
    print(f"idle_conns: {msg}", file=sys.stderr)
    sys.exit(1)


class Conn:
    """One connection: the request still to send and the answer read so far."""

    def __init__(self, sock, request):
        self.sock = sock
        self.out = request
        self.buf = b""
        self.want = None  # total answer bytes, once the head is complete

    def answered(self):
        """True once the whole answer is in; fails the run on a bad one."""
        if self.want is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return False
            head = self.buf[:end].decode("latin-1").lower().split("\r\n")
            if not head[0].startswith("http/1.1 200"):
                fail(f"answer {head[0]!r}")
            length = None
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and "close" in value:
                    fail("the server answered with Connection: close")
            if length is None:
                fail("answer without Content-Length")
            self.want = end + 4 + length
        return len(self.buf) >= self.want


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/100b.bin")
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--window", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=60, help="seconds to get them all idle")
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = a.conns + 64
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            fail(f"RLIMIT_NOFILE hard limit {hard} is below the {need} descriptors needed")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))

    request = (f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n"
               "User-Agent: idle_conns\r\n\r\n").encode()
    sel = selectors.DefaultSelector()
    busy = 0  # connections between connect and a complete answer
    started = 0
    idle = []
    deadline = time.monotonic() + a.timeout

    while len(idle) < a.conns:
        while busy < a.window and started < a.conns:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex((a.host, a.port))
            if err not in (0, errno.EINPROGRESS):
                fail(f"connect number {started + 1}: {errno.errorcode.get(err, err)}")
            sel.register(s, selectors.EVENT_WRITE, Conn(s, request))
            started += 1
            busy += 1
        if time.monotonic() > deadline:
            fail(f"only {len(idle)} of {a.conns} connections idle after {a.timeout} s")
        for key, events in sel.select(timeout=1):
            c = key.data
            if events & selectors.EVENT_WRITE:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(f"connect: {errno.errorcode.get(err, err)}")
                n = c.sock.send(c.out)
                c.out = c.out[n:]
                if not c.out:
                    sel.modify(c.sock, selectors.EVENT_READ, c)
                continue
            data = c.sock.recv(65536)
            if not data:
                fail(f"the server closed a connection before answering ({len(idle)} idle)")
            c.buf += data
            if c.answered():
                sel.unregister(c.sock)
                c.buf = b""
                idle.append(c.sock)
                busy -= 1

    # All idle: watch them for a close until told to stop.
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(1))
    for s in idle:
        sel.register(s, selectors.EVENT_READ)
    print(f"ready {len(idle)}", flush=True)
    open_ = len(idle)
    while not stop:
        for key, _ in sel.select(timeout=0.2):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                open_ -= 1
    print(f"still_open {open_}", flush=True)


if __name__ == "__main__":
    main()
