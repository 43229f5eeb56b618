#!/usr/bin/env bash
# Lost answers: how many error answers a client reads whole, against how many
# a reset destroys, for examples/hello and weftd under each I/O backend and
# for nginx, one after the other in one run (bench/lost_answers.py does the
# counting; see it for the three cases).
#
#   bench/lost_answers.sh [--trials=40] [--threads=1]
#   answers server=nginx case=uri trials=40 whole=40 reset=0 other=0
#   answers server=hello_epoll case=uri trials=40 whole=40 reset=0 other=0
#   ...
#
# HELLO=path WEFTD=path run other builds of the two programs (e.g. an older
# commit's, to compare). nginx runs one worker with its defaults, which
# refuse these requests the same way: 8 KiB header buffers (414), a 1 KiB
# client_max_body_size here (413), and lingering_close on.
set -euo pipefail
cd "$(dirname "$0")/.."

trials=40
threads=1
for a in "$@"; do
  case "$a" in
    --trials=*) trials="${a#*=}" ;;
    --threads=*) threads="${a#*=}" ;;
    *) echo "usage: bench/lost_answers.sh [--trials=N] [--threads=N]" >&2; exit 2 ;;
  esac
done
command -v nginx >/dev/null || { echo "lost_answers: nginx is missing (run tools/bootstrap)" >&2; exit 2; }

if [ -z "${HELLO:-}" ] || [ -z "${WEFTD:-}" ]; then
  bazel build -c opt //examples:hello //weftd >/dev/null 2>&1
  bin="$(bazel info -c opt bazel-bin 2>/dev/null)"
  HELLO="${HELLO:-$bin/examples/hello}"
  WEFTD="${WEFTD:-$bin/weftd/weftd}"
fi
work="$(mktemp -d /tmp/weft-lost-answers-XXXXXX)"
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=18380

wait_port() {
  for _ in $(seq 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$1/"; then return 0; fi
    sleep 0.05
  done
  echo "lost_answers: nothing answers on port $1" >&2
  return 1
}

start() {  # start SERVER -> server_pid
  case "$1" in
    nginx)
      mkdir -p "$work/nginx"
      cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_max_body_size 1k;
  server {
    listen 127.0.0.1:$port;
    location / { default_type text/plain; return 200 "Hello, world!\n"; }
  }
}
EOF
      nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
      ;;
    hello_*)
      "$HELLO" --io="${1#hello_}" --threads="$threads" --port="$port" 2>"$work/server.err" &
      ;;
    weftd_*)
      "$WEFTD" --io="${1#weftd_}" --threads="$threads" --port="$port" --root="$PWD/www" \
        --access-log=off 2>"$work/server.err" &
      ;;
  esac
  server_pid=$!
}

for server in nginx hello_select hello_poll hello_epoll hello_io_uring \
  weftd_select weftd_poll weftd_epoll weftd_io_uring; do
  port=$((port + 1))
  start "$server"
  wait_port "$port"
  for case in uri body pipeline; do
    line=$(python3 bench/lost_answers.py --port="$port" --case="$case" --trials="$trials" || true)
    echo "${line/answers /answers server=$server }"
  done
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
done
