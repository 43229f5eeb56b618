#!/usr/bin/env bash
# HTTP benchmark: examples/hello under each I/O backend (one worker) against
# nginx answering the same fixed body, one after the other in one run.
#
#   bench/hello_bench.sh [--seconds=5]
#   hello case=keepalive50 server=nginx rps=... rps_per_server_cpu_s=...
#   hello case=keepalive50 server=weft_io_uring rps=... rps_per_server_cpu_s=... ratio_vs_nginx=...
#
# Every server is pinned to CPU 0 and the load generator to CPU 1 (wrk -t1,
# or h2load -t1 for pipelining). Access logs are off on both sides. nginx
# runs one worker process and answers `return 200 "Hello, world!\n"`.
# Cases: keep-alive with 50 and with 1000 connections, `Connection: close`
# (a new connection per request, 50 at a time), and 16-deep pipelining over
# 50 connections. rps_per_server_cpu_s divides the requests completed by the
# server's CPU time over the run (utime + stime of every server process,
# from /proc/<pid>/stat): the fair figure when the client saturates.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=5
for a in "$@"; do
  case "$a" in
    --seconds=*) seconds="${a#*=}" ;;
    *) echo "usage: bench/hello_bench.sh [--seconds=N]" >&2; exit 2 ;;
  esac
done
for tool in wrk h2load nginx taskset; do
  command -v "$tool" >/dev/null || { echo "hello_bench: $tool is missing (run tools/bootstrap)" >&2; exit 2; }
done

bazel build -c opt //examples:hello >/dev/null 2>&1
hello="$(bazel info -c opt bazel-bin 2>/dev/null)/examples/hello"
work="$(mktemp -d /tmp/weft-hello-bench-XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

port=18080
clk=$(getconf CLK_TCK)

# Sum of utime + stime, in ticks, of a process and its children.
cpu_ticks() {
  local total=0 p
  for p in "$@" $(pgrep -P "$1" 2>/dev/null || true); do
    if [ -r "/proc/$p/stat" ]; then
      total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    fi
  done
  echo "$total"
}

wait_port() {
  for _ in $(seq 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$1/"; then return 0; fi
    sleep 0.05
  done
  echo "hello_bench: nothing answers on port $1" >&2
  return 1
}

# run_case NAME PID -> prints "rps requests cpu_s"
load() {
  local name=$1
  case "$name" in
    keepalive50) taskset -c 1 wrk -t1 -c50 -d"${seconds}s" "http://127.0.0.1:$port/" ;;
    keepalive1000) taskset -c 1 wrk -t1 -c1000 -d"${seconds}s" "http://127.0.0.1:$port/" ;;
    close) taskset -c 1 wrk -t1 -c50 -d"${seconds}s" -H "Connection: close" "http://127.0.0.1:$port/" ;;
    pipeline16) taskset -c 1 h2load --h1 -t1 -c50 -m16 -D"$seconds" "http://127.0.0.1:$port/" ;;
  esac
}

measure() {  # measure CASE SERVER_PID -> "requests rps cpu_seconds"
  local case=$1 pid=$2 before after out requests rps
  load "$case" >/dev/null 2>&1 || true  # warm-up pass, same length
  before=$(cpu_ticks "$pid")
  out=$(load "$case" 2>&1)
  after=$(cpu_ticks "$pid")
  if [ "$case" = pipeline16 ]; then
    requests=$(echo "$out" | awk '/^requests:/ {print $8}')
    rps=$(echo "$out" | awk '/^finished in/ {gsub(",", "", $4); print $4}')
  else
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  fi
  echo "${requests:-0} ${rps:-0} $(awk -v t=$((after - before)) -v c="$clk" 'BEGIN {printf "%.3f", t / c}')"
}

start_nginx() {
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    location / { default_type text/plain; return 200 "Hello, world!\n"; }
  }
}
EOF
  taskset -c 0 nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
  server_pid=$!
}

start_hello() {
  taskset -c 0 "$hello" --io="$1" --threads=1 --port=$port 2>"$work/hello.err" &
  server_pid=$!
}

declare -A nginx_per_cpu
servers=(nginx weft_select weft_poll weft_epoll weft_io_uring)
for case in keepalive50 keepalive1000 close pipeline16; do
  for server in "${servers[@]}"; do
    port=$((port + 1))
    if [ "$server" = nginx ]; then start_nginx; else start_hello "${server#weft_}"; fi
    pids+=("$server_pid")
    wait_port "$port"
    read -r requests rps cpu <<<"$(measure "$case" "$server_pid")"
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    per_cpu=$(awk -v r="$requests" -v c="$cpu" 'BEGIN {printf "%.0f", (c > 0 ? r / c : 0)}')
    line="hello case=$case server=$server rps=$rps rps_per_server_cpu_s=$per_cpu"
    if [ "$server" = nginx ]; then
      nginx_per_cpu[$case]=$per_cpu
    else
      line="$line ratio_vs_nginx=$(awk -v a="$per_cpu" -v b="${nginx_per_cpu[$case]}" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
    fi
    echo "$line"
  done
done
