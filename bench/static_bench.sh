#!/usr/bin/env bash
# Static-file benchmark: weftd against h2o, nginx and lighttpd on one
# generated docroot, one after the other in one invocation, one line per
# measurement on stdout.
#
#   bazel run -c opt //bench:static                  # about 4 1/2 min
#   bazel run -c opt //bench:static > bench/static.txt && gnuplot bench/plot_static.gp
#   static row=ka50 size=100b server=weftd rps=... mb_s=... rps_per_server_cpu_s=... server_cpu=0.99
#     client_cpu=0.80 others_cpu=0.00 ratio_vs_h2o=1.21 ratio_vs_nginx=1.07 target=1.10xh2o met=yes
#   rss server=weftd peak_kib=... idle10k_kib=... base_kib=... per_conn_bytes=... still_open=10000
#     peak_ratio_vs_h2o=... ratio_vs_h2o=... target=1.5 met=yes
#
# Options:
#   --seconds=N        length of each measured run (default 5)
#   --quick            1 s runs and no warm-up runs: checks that everything
#                      works in about a minute; the numbers are not for the record
#   --log-cost         also measure what the access log costs weftd and nginx
#                      (about 1 min more)
#   --syscalls         also count syscalls per request, perf then strace (about
#                      40 s more)
#   --perf-record=DIR  also record a profile of weftd and of nginx
#   --port=N           first of the seven ports used (default 18480)
#   --weftd=PATH       weftd binary (default: the runfiles copy)
#   --keep             leave the /tmp directory (docroot, configs, logs)
#
# Servers. Five, all started at the beginning, each pinned to CPU 0 with
# taskset and each with one worker, all serving the same docroot on
# 127.0.0.1 and all writing an access log to a file in the /tmp directory:
#   weftd        --threads=1, default I/O (io_uring), --access-log=FILE
#                (combined format), --keepalive-timeout=60
#   weftd_epoll  the same with --io=epoll
#   h2o          `num-threads: 1`, `file.dir`, `access-log: FILE` (its default
#                format is combined), `http1-request-timeout: 60`,
#                `max-connections: 20000`; `user: root` when run as root
#   nginx        `worker_processes 1` under its master, `sendfile on;
#                tcp_nopush on; open_file_cache max=1000`, `access_log FILE
#                combined` (unbuffered, nginx's default), `keepalive_timeout
#                60s`, `worker_connections 20000`
#   lighttpd     `server.max-worker = 0` (one process), linux-sysepoll,
#                the sendfile network backend, mod_accesslog in the combined
#                format, `server.max-keep-alive-idle = 60`
# None closes a keep-alive connection during a run: the request limits per
# connection are set out of reach, except lighttpd's, which is 16 bits wide
# (65535; its pipe16 run reaches that beyond --seconds=10 or so, and the
# requests in flight on a connection it closes count as errors). The
# connection limits are 20000 (lighttpd: half its open files, 10000). The
# listen backlog is 1024 where it can be set (h2o: the kernel's somaxconn).
# The open-file limit is raised to 65536 or, if that is refused, to the hard
# limit; it must allow 20000. The docroot (random bytes, world-readable)
# holds 100b.bin, 10k.bin and 1m.bin (100 B, 10 KiB, 1 MiB), and 1k.bin for
# the --log-cost and --syscalls sections, which keep the earlier method and
# file.
#
# Before any load, each file is fetched once through each server with curl
# and compared byte for byte with the original (cmp). Before that the script
# waits up to 30 s for CPUs 0 and 1 to be 95% idle over 2 s, and says on
# stderr if they never were.
#
# Rows. Each row is run for each server in turn (h2o, nginx, lighttpd, weftd,
# weftd_epoll), each run after a 1 s warm-up run of the same row and server;
# the load generator runs with one thread pinned to CPU 1:
#   ka50    wrk -t1 -c50, keep-alive          on 100b, 10k and 1m
#   ka1000  wrk -t1 -c1000, keep-alive        on 100b and 10k
#   ka20    wrk -t1 -c20, keep-alive          on 1m
#   close   wrk -t1 -c50 -H 'Connection: close': a connection per request, on 100b
#   pipe16  h2load --h1 -t1 -c50 -m16: 16 requests pipelined on each of 50
#           connections (h2load writes them back to back on HTTP/1.1), on 100b
# The figures of a row are printed once all five servers have run it:
#   rps                   the load generator's requests per second
#   mb_s                  rps times the file's size, in 10^6 bytes per second
#   rps_per_server_cpu_s  completed requests divided by the server's CPU time
#                         over the run (utime + stime from /proc/<pid>/stat of
#                         each server process, which covers all its threads:
#                         nginx's master and worker; h2o's process but not the
#                         crash-handler helper it spawns, which never runs):
#                         what the server pays per request whichever side is
#                         the bottleneck, so the fair figure when the client
#                         saturates
#   server_cpu, client_cpu  share of one core each side used: the side near
#                         1.0 is the bottleneck
#   others_cpu            the rest of the busy time of CPUs 0 and 1 (other
#                         processes, kernel threads), in cores: well above 0
#                         means the run was disturbed
#   ratio_vs_h2o, ratio_vs_nginx, and on pipe16 ratio_vs_lighttpd
#                         rps_per_server_cpu_s over that server's on the same
#                         row and file
#   target, met           on weftd and weftd_epoll lines: at least 1.10xh2o on
#                         ka50 and ka1000 with 100b and 10k, 1.00xh2o on every
#                         other row, and on pipe16 also 2.00xlighttpd
#
# RSS, after the rows, one server at a time. peak_kib is VmHWM from
# /proc/<pid>/status after all the rows (ka1000 holds the most connections),
# summed over the server's processes as above (nginx: master and worker,
# whose shared pages count twice). base_kib is VmRSS just before, idle10k_kib
# VmRSS 3 s after (connections idle for a while: weftd's idle keep-alive
# connections give up their fibers after --hibernate-after, 0.25 s, and the
# stacks go back to the kernel within about 2 s), bench/idle_conns.py (pinned to CPU 1) has opened 10,000
# connections, sent `GET /100b.bin` on each and read the answer, and holds
# them open; per_conn_bytes = (idle10k - base) / 10,000, still_open counts
# the connections the server had not closed when the client let go.
# ratio_vs_h2o compares idle10k_kib, peak_ratio_vs_h2o peak_kib; the target
# for weftd is both at most 1.5.
#
# --log-cost: two more servers, weftd and nginx with the access log off. Each
# pair (off, on) takes turns on the 1 KiB file with wrk -c64, off on on off
# off on on off, each run --seconds/2 rounded up, so a drift in the machine's
# speed falls on both; cost = 1 - on/off in requests per server CPU-second.
# The target for weftd is cost <= 0.10.
#
# --syscalls: per request on the 1 KiB file (wrk -c64, access log on), each
# counted while one wrk run of 2 s is the only load: `perf stat -e
# raw_syscalls:sys_enter -p <pids>` (cheap, the server's normal batching),
# then `strace -c -f -p <pids>` for which calls they are (strace slows the
# server several times over, which changes the batching, so its total
# differs from perf's).
#
# --perf-record=DIR records `perf record -e cpu-clock -g` of weftd and of
# nginx on the 1 KiB file (wrk -c64) for --seconds each, into DIR/weftd.data
# and DIR/nginx.data.
#
# Exit status 1 if a response differs, a load run saw errors or non-2xx
# answers, the idle connections could not be held, or a server would not
# start. The servers are stopped on any exit.
set -euo pipefail

seconds=5
quick=0
port=18480  # it and the next six
perf_dir=""
keep=0
weftd=""
log_cost=0
count_syscalls=0
for arg in "$@"; do
  case "$arg" in
    --seconds=*) seconds="${arg#*=}" ;;
    --quick) quick=1 seconds=1 ;;
    --log-cost) log_cost=1 ;;
    --syscalls) count_syscalls=1 ;;
    --port=*) port="${arg#*=}" ;;
    --perf-record=*) perf_dir="${arg#*=}" ;;
    --weftd=*) weftd="${arg#*=}" ;;
    --keep) keep=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "static_bench: unknown argument $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

# weftd: --weftd, else the runfiles copy (bazel run), else bazel-bin.
lib="bench/bench_lib.sh"  # the runfiles copy (bazel run runs from the runfiles root)
[ -f "$lib" ] || lib="$(dirname "$0")/bench_lib.sh"
source "$lib" static_bench
# The idle-connection client: the runfiles copy, else the one beside this script.
idle_client=bench/idle_conns.py
if [ ! -f "$idle_client" ]; then idle_client="$(dirname "$0")/idle_conns.py"; fi
case "$perf_dir" in "" | /*) ;; *) perf_dir="${BUILD_WORKING_DIRECTORY:-$PWD}/$perf_dir" ;; esac
for tool in wrk h2load nginx h2o lighttpd python3 curl taskset strace perf; do
  if ! command -v "$tool" >/dev/null; then
    echo "static_bench: $tool is missing (tools/bootstrap installs it)" >&2
    exit 2
  fi
done

idle_conns=10000
max_conns=$((2 * idle_conns))
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
nofile="$(ulimit -n)"
if [ "$nofile" -lt "$max_conns" ]; then
  echo "static_bench: the open-file limit is $nofile (hard $(ulimit -Hn)); $max_conns are needed" >&2
  exit 2
fi

work="$(mktemp -d /tmp/weft-static-bench.XXXXXX)"
docroot="$work/www"
status=0
pids=()    # every server this script started
tracer=""  # the perf or strace attached to a server, while it runs
holder=""  # the client holding idle connections, while it runs

stop_servers() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  pids=()
}
stop_tracer() {  # perf and strace print their summary on SIGINT
  kill -INT "$1" 2>/dev/null || true
  wait "$1" || true
  tracer=""
}
stop_holder() {  # it prints still_open on SIGTERM (and dies of it while connecting)
  kill -TERM "$holder" 2>/dev/null || true
  wait "$holder" || true
  holder=""
}
cleanup() {
  if [ -n "$tracer" ]; then stop_tracer "$tracer"; fi
  if [ -n "$holder" ]; then stop_holder; fi
  stop_servers
  if [ "$keep" = 1 ]; then echo "# kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------- docroot

mkdir -p "$docroot"
chmod 755 "$work" "$docroot"  # nginx's worker runs as nobody
sizes=(100b 1k 10k 1m)
declare -A bytes=([100b]=100 [1k]=1024 [10k]=10240 [1m]=1048576)
for s in "${sizes[@]}"; do
  head -c "${bytes[$s]}" /dev/urandom >"$docroot/$s.bin"
  chmod 644 "$docroot/$s.bin"
done

# ------------------------------------------------------------- servers

hz="$(getconf CLK_TCK)"

# Ticks of CPUs 0 and 1 together: busy (all but idle and iowait), then all.
cpu01_ticks() {
  awk '$1 == "cpu0" || $1 == "cpu1" {
    b += $2 + $3 + $4 + $7 + $8 + $9; t += $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9
  } END {print b, t}' /proc/stat
}

# Server CPU time in clock ticks, summed over the given pids.
cpu_ticks() {
  local total=0 p f
  for p in "$@"; do
    read -ra f < <(sed 's/^.*) //' "/proc/$p/stat")  # from field 3 on; comm may hold spaces
    total=$((total + f[11] + f[12]))                  # fields 14 and 15: utime, stime
  done
  echo "$total"
}

# A /proc/<pid>/status field in KiB (VmRSS, VmHWM), summed over the given pids.
mem_kib() {
  local field="$1" p
  shift
  for p in "$@"; do cat "/proc/$p/status"; done | awk -v f="$field:" '$1 == f {n += $2} END {print n + 0}'
}

wait_listening() {  # port pid name
  for _ in $(seq 50); do
    if curl -s -o /dev/null "http://127.0.0.1:$1/"; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "static_bench: $3 did not start on port $1; its output:" >&2
  cat "$work/$3.out" "$work/$3.err" >&2 || true
  exit 1
}

# start_weftd NAME PORT ARGS...: sets server_pids.
start_weftd() {
  local name="$1" p="$2"
  shift 2
  taskset -c 0 "$weftd" --root="$docroot" --port="$p" --threads=1 --error-log="$work/$name.err" \
    --max-connections="$max_conns" --keepalive-timeout=60 "$@" >"$work/$name.out" 2>>"$work/$name.err" &
  pids+=("$!")
  server_pids="$!"
  wait_listening "$p" "$!" "$name"
}

# start_nginx NAME PORT ACCESS_LOG: sets server_pids (master, worker).
start_nginx() {
  local name="$1" p="$2" log="$3"
  mkdir -p "$work/$name"
  cat >"$work/$name/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $nofile;
daemon off;
pid $work/$name/nginx.pid;
error_log $work/$name.err warn;
events { worker_connections $max_conns; }
http {
  types { application/octet-stream bin; }
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  open_file_cache max=1000 inactive=60s;
  open_file_cache_valid 60s;
  access_log $log;
  client_body_temp_path $work/$name/body;
  proxy_temp_path $work/$name/proxy;
  fastcgi_temp_path $work/$name/fastcgi;
  uwsgi_temp_path $work/$name/uwsgi;
  scgi_temp_path $work/$name/scgi;
  server {
    listen 127.0.0.1:$p backlog=1024;
    root $docroot;
  }
}
EOF
  taskset -c 0 nginx -e "$work/$name.err" -p "$work/$name/" -c "$work/$name/nginx.conf" \
    >"$work/$name.out" 2>&1 &
  local master="$!"
  pids+=("$master")
  wait_listening "$p" "$master" "$name"
  local worker
  worker="$(pgrep -P "$master" | head -n 1)"
  server_pids="$master $worker"
}

# start_h2o NAME PORT: sets server_pids (the server process; its child is the
# crash handler, a script that waits on a pipe).
start_h2o() {
  local name="$1" p="$2"
  mkdir -p "$work/$name"
  {
    # As root h2o switches to `user`, nobody by default; root keeps the paths
    # below writable.
    if [ "$(id -u)" = 0 ]; then echo "user: root"; fi
    cat <<EOF
pid-file: $work/$name/h2o.pid
error-log: $work/$name.err
num-threads: 1
max-connections: $max_conns
http1-request-timeout: 60
listen:
  host: 127.0.0.1
  port: $p
access-log: $work/$name-access.log
hosts:
  default:
    paths:
      /:
        file.dir: $docroot
EOF
  } >"$work/$name/h2o.conf"
  taskset -c 0 h2o -c "$work/$name/h2o.conf" >"$work/$name.out" 2>&1 &
  pids+=("$!")
  server_pids="$!"
  wait_listening "$p" "$!" "$name"
}

# start_lighttpd NAME PORT: sets server_pids.
start_lighttpd() {
  local name="$1" p="$2"
  mkdir -p "$work/$name"
  cat >"$work/$name/lighttpd.conf" <<EOF
server.document-root = "$docroot"
server.bind = "127.0.0.1"
server.port = $p
server.pid-file = "$work/$name/lighttpd.pid"
server.errorlog = "$work/$name.err"
server.max-worker = 0
server.event-handler = "linux-sysepoll"
server.network-backend = "sendfile"
server.max-fds = $nofile
server.max-connections = $((nofile / 2))
server.max-keep-alive-requests = 65535  # its most: the field is 16 bits
server.max-keep-alive-idle = 60
server.listen-backlog = 1024
server.modules = ("mod_accesslog")
accesslog.filename = "$work/$name-access.log"
accesslog.format = "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\""
mimetype.assign = (".bin" => "application/octet-stream")
EOF
  taskset -c 0 lighttpd -D -f "$work/$name/lighttpd.conf" >"$work/$name.out" 2>&1 &
  pids+=("$!")
  server_pids="$!"
  wait_listening "$p" "$!" "$name"
}

# --------------------------------------------------------- measurements

# run_load ROW PORT PATH SECONDS PIDS: one run of the row's load generator;
# sets requests, rps, server_cpu (core share), server_cpu_s, client_cpu,
# others_cpu (what else kept CPUs 0 and 1 busy, in cores), errors.
run_load() {
  local row="$1" p="$2" path="$3" secs="$4" spids="$5"
  local url="http://127.0.0.1:$p$path" cmd c0 c1 b0 b1 t0 t1 out tm
  case "$row" in
    ka*) cmd=(wrk -t1 -c"${row#ka}" -d"${secs}s" "$url") ;;
    close) cmd=(wrk -t1 -c50 -d"${secs}s" -H "Connection: close" "$url") ;;
    pipe16) cmd=(h2load --h1 -t1 -c50 -m16 -D"$secs" "$url") ;;
  esac
  out="$work/load.out"
  tm="$work/load.time"
  read -r b0 _ < <(cpu01_ticks)
  c0="$(cpu_ticks $spids)"
  t0="$(date +%s.%N)"
  if ! { TIMEFORMAT='%U %S' && time taskset -c 1 "${cmd[@]}" >"$out"; } 2>"$tm"; then
    echo "static_bench: ${cmd[*]} failed:" >&2
    cat "$out" "$tm" >&2
    exit 1
  fi
  t1="$(date +%s.%N)"
  c1="$(cpu_ticks $spids)"
  read -r b1 _ < <(cpu01_ticks)
  if [ "$row" = pipe16 ]; then
    # requests: T total, S started, D done, OK succeeded, F failed, E errored, TO timeout
    requests="$(awk '/^requests:/ {print $8}' "$out")"
    rps="$(awk '/^finished in/ {printf "%d", $4}' "$out")"
    errors="$(awk '/^requests:/ {n += $10 + $12 + $14} /^status codes:/ {n += $5 + $7 + $9} END {print n + 0}' "$out")"
  else
    requests="$(awk '/requests in/ {print $1}' "$out")"
    rps="$(awk '/^Requests\/sec:/ {printf "%d", $2}' "$out")"
    errors="$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$out")"
  fi
  read -r server_cpu server_cpu_s client_cpu others_cpu < <(awk -v c="$((c1 - c0))" \
    -v b="$((b1 - b0))" -v hz="$hz" -v w="$(echo "$t1 $t0" | awk '{print $1 - $2}')" \
    -v tm="$(cat "$tm")" 'BEGIN {
      split(tm, u, " "); client = u[1] + u[2]; others = b / hz - c / hz - client
      printf "%.2f %.4f %.2f %.2f\n", c / hz / w, c / hz, client / w, (others > 0 ? others : 0) / w
    }')
  if [ "${requests:-0}" = 0 ] || [ "$errors" != 0 ]; then
    echo "static_bench: ${cmd[*]}: ${requests:-0} requests, $errors errors" >&2
    cat "$out" >&2
    status=1
  fi
}

per_cpu_s() { awk -v r="$1" -v c="$2" 'BEGIN {printf "%d", (c > 0 ? r / c : 0)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
at_least() { awk -v a="$1" -v b="$2" 'BEGIN {print (a >= b ? "yes" : "no")}'; }

smoke() {  # name port
  local s got
  for s in "${sizes[@]}"; do
    got="$work/smoke.$1.$s"
    if ! curl -sf -o "$got" "http://127.0.0.1:$2/$s.bin" || ! cmp -s "$got" "$docroot/$s.bin"; then
      echo "static_bench: $1 served /$s.bin wrong (cmp $got $docroot/$s.bin)" >&2
      status=1
    fi
    rm -f "$got"
  done
}

# Waits up to 30 s for CPUs 0 and 1 to be 95% idle over 2 s.
wait_idle() {
  local i b0 b1 t0 t1
  for i in $(seq 15); do
    read -r b0 t0 < <(cpu01_ticks)
    sleep 2
    read -r b1 t1 < <(cpu01_ticks)
    if [ $(((b1 - b0) * 100)) -le $(((t1 - t0) * 5)) ]; then return 0; fi
  done
  echo "# CPUs 0 and 1 were not idle for 30 s; expect others_cpu above 0" >&2
}

servers=(weftd weftd_epoll h2o nginx lighttpd)  # the order of the lines
run_order=(h2o nginx lighttpd weftd weftd_epoll)
declare -A port_of pids_of
for i in "${!servers[@]}"; do port_of[${servers[$i]}]=$((port + i)); done

start_weftd weftd "${port_of[weftd]}" --access-log="$work/weftd-access.log"
pids_of[weftd]="$server_pids"
start_weftd weftd_epoll "${port_of[weftd_epoll]}" --access-log="$work/weftd_epoll-access.log" --io=epoll
pids_of[weftd_epoll]="$server_pids"
start_h2o h2o "${port_of[h2o]}"
pids_of[h2o]="$server_pids"
start_nginx nginx "${port_of[nginx]}" "$work/nginx-access.log combined"
pids_of[nginx]="$server_pids"
start_lighttpd lighttpd "${port_of[lighttpd]}"
pids_of[lighttpd]="$server_pids"
if [ "$log_cost" = 1 ]; then
  port_of[weftd_nolog]=$((port + 5)) port_of[nginx_nolog]=$((port + 6))
  start_weftd weftd_nolog "${port_of[weftd_nolog]}" --access-log=off
  pids_of[weftd_nolog]="$server_pids"
  start_nginx nginx_nolog "${port_of[nginx_nolog]}" off
  pids_of[nginx_nolog]="$server_pids"
fi
{
  echo "# weftd $weftd; $(h2o --version | head -n 1); nginx $(nginx -v 2>&1 | sed 's/.*: //');" \
    "$(lighttpd -v | sed 's/ - .*//'); $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2);" \
    "h2load $(h2load --version | sed 's/.*nghttp2\///')"
  echo "# ${seconds} s per run$([ "$quick" = 1 ] && echo ", no warm-up"); open files $nofile;" \
    "load average $(cut -d' ' -f1 /proc/loadavg); pids$(for s in "${servers[@]}"; do printf ' %s=%s' "$s" "${pids_of[$s]// /,}"; done)"
} >&2

wait_idle
for s in "${!port_of[@]}"; do smoke "$s" "${port_of[$s]}"; done
[ "$status" = 0 ] || exit 1

# 1. Throughput and CPU per request, by row and file size.
target_of() {  # row size -> "h2o lighttpd" minimum ratios for weftd, "-" for none
  case "$1:$2" in
    ka50:100b | ka50:10k | ka1000:100b | ka1000:10k) echo "1.10 -" ;;
    pipe16:*) echo "1.00 2.00" ;;
    *) echo "1.00 -" ;;
  esac
}

measure_row() {  # row size
  local row="$1" size="$2" s
  local -A rps_of cpu_of line_of
  for s in "${run_order[@]}"; do
    if [ "$quick" = 0 ]; then run_load "$row" "${port_of[$s]}" "/$size.bin" 1 "${pids_of[$s]}"; fi
    run_load "$row" "${port_of[$s]}" "/$size.bin" "$seconds" "${pids_of[$s]}"
    cpu_of[$s]="$(per_cpu_s "$requests" "$server_cpu_s")"
    line_of[$s]="static row=$row size=$size server=$s rps=$rps"
    line_of[$s]+=" mb_s=$(awk -v r="$rps" -v b="${bytes[$size]}" 'BEGIN {printf "%.1f", r * b / 1e6}')"
    line_of[$s]+=" rps_per_server_cpu_s=${cpu_of[$s]} server_cpu=$server_cpu client_cpu=$client_cpu"
    line_of[$s]+=" others_cpu=$others_cpu"
  done
  local line t_h2o t_lighttpd r_h2o r_lighttpd met
  read -r t_h2o t_lighttpd < <(target_of "$row" "$size")
  for s in "${servers[@]}"; do
    r_h2o="$(ratio "${cpu_of[$s]}" "${cpu_of[h2o]}")"
    line="${line_of[$s]} ratio_vs_h2o=$r_h2o ratio_vs_nginx=$(ratio "${cpu_of[$s]}" "${cpu_of[nginx]}")"
    r_lighttpd="$(ratio "${cpu_of[$s]}" "${cpu_of[lighttpd]}")"
    if [ "$row" = pipe16 ]; then line+=" ratio_vs_lighttpd=$r_lighttpd"; fi
    if [ "${s%%_*}" = weftd ]; then
      met="$(at_least "$r_h2o" "$t_h2o")"
      line+=" target=${t_h2o}xh2o"
      if [ "$t_lighttpd" != - ]; then
        line+=",${t_lighttpd}xlighttpd"
        if [ "$(at_least "$r_lighttpd" "$t_lighttpd")" = no ]; then met=no; fi
      fi
      line+=" met=$met"
    fi
    echo "$line"
  done
}
for rs in ka50:100b ka50:10k ka50:1m ka1000:100b ka1000:10k ka20:1m close:100b pipe16:100b; do
  measure_row "${rs%%:*}" "${rs##*:}"
done

# 2. Memory: peak over the rows, then with 10,000 idle keep-alive connections.
declare -A peak_of base_of idle_of open_of
for s in "${servers[@]}"; do peak_of[$s]="$(mem_kib VmHWM ${pids_of[$s]})"; done
for s in "${run_order[@]}"; do
  out="$work/idle.$s.out"
  : >"$out"  # here, not in the background job, so no earlier "ready" is seen
  base_of[$s]="$(mem_kib VmRSS ${pids_of[$s]})"
  taskset -c 1 python3 "$idle_client" --port="${port_of[$s]}" --path=/100b.bin \
    --conns="$idle_conns" >"$out" 2>"$work/idle.$s.err" &
  holder="$!"
  while ! grep -q '^ready' "$out" && kill -0 "$holder" 2>/dev/null; do sleep 0.1; done
  if grep -q '^ready' "$out"; then
    sleep 3  # idle means idle a while: weftd hibernates after 0.25 s, trims stacks ~1 s later
    idle_of[$s]="$(mem_kib VmRSS ${pids_of[$s]})"
  else
    echo "static_bench: $s: could not hold $idle_conns idle connections:" >&2
    cat "$work/idle.$s.err" >&2
    status=1
    idle_of[$s]=0
  fi
  stop_holder
  open_of[$s]="$(awk '/^still_open/ {n = $2} END {print n + 0}' "$out")"
  if [ "${open_of[$s]}" != "$idle_conns" ]; then status=1; fi
  sleep 0.5  # let the server close them before the next one starts
done
for s in "${servers[@]}"; do
  line="rss server=$s peak_kib=${peak_of[$s]} idle10k_kib=${idle_of[$s]} base_kib=${base_of[$s]}"
  per_conn=0
  if [ "${idle_of[$s]}" != 0 ]; then per_conn=$(((idle_of[$s] - base_of[$s]) * 1024 / idle_conns)); fi
  line+=" per_conn_bytes=$per_conn still_open=${open_of[$s]}"
  r_peak="$(ratio "${peak_of[$s]}" "${peak_of[h2o]}")"
  r_idle="$(ratio "${idle_of[$s]}" "${idle_of[h2o]}")"
  line+=" peak_ratio_vs_h2o=$r_peak ratio_vs_h2o=$r_idle"
  if [ "${s%%_*}" = weftd ]; then
    met=yes
    if [ "$(at_least 1.5 "$r_peak")" = no ] || [ "$(at_least 1.5 "$r_idle")" = no ]; then met=no; fi
    line+=" target=1.5 met=$met"
  fi
  echo "$line"
done

# 3. What the access log costs, off/on/on/off on the 1 KiB file.
half=$(((seconds + 1) / 2))  # wrk takes whole seconds
log_cost() {  # name off_name on_name [target]
  local name="$1" off_name="$2" on_name="$3" target="${4:-}" i s
  local -A req=() cpu=() others=()
  run_load ka64 "${port_of[$off_name]}" /1k.bin 1 "${pids_of[$off_name]}"
  run_load ka64 "${port_of[$on_name]}" /1k.bin 1 "${pids_of[$on_name]}"
  for i in off on on off off on on off; do
    if [ "$i" = off ]; then s="$off_name"; else s="$on_name"; fi
    run_load ka64 "${port_of[$s]}" /1k.bin "$half" "${pids_of[$s]}"
    req[$i]=$((${req[$i]:-0} + requests))
    cpu[$i]="$(awk -v a="${cpu[$i]:-0}" -v b="$server_cpu_s" 'BEGIN {print a + b}')"
    others[$i]="$(awk -v a="${others[$i]:-0}" -v b="$others_cpu" 'BEGIN {print a + b / 4}')"
  done
  local off on cost line
  off="$(per_cpu_s "${req[off]}" "${cpu[off]}")"
  on="$(per_cpu_s "${req[on]}" "${cpu[on]}")"
  cost="$(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.3f", 1 - a / b}')"
  echo "log size=1k server=$name access_log=off rps_per_server_cpu_s=$off others_cpu=$(printf %.2f "${others[off]}")"
  line="log size=1k server=$name access_log=on rps_per_server_cpu_s=$on others_cpu=$(printf %.2f "${others[on]}") cost=$cost"
  if [ -n "$target" ]; then
    line+=" target=$target met=$(awk -v c="$cost" -v t="$target" 'BEGIN {print (c <= t ? "yes" : "no")}')"
  fi
  echo "$line"
}
if [ "$log_cost" = 1 ]; then
  log_cost weftd weftd_nolog weftd 0.10
  log_cost nginx nginx_nolog nginx
fi

# 4. Syscalls per request on the 1 KiB file.
syscalls() {  # name
  local name="$1" p="${port_of[$1]}" spids="${pids_of[$1]}"
  perf stat -x, -o "$work/perf-stat.$name" -e raw_syscalls:sys_enter -p "${spids// /,}" &
  tracer="$!"
  sleep 0.3
  run_load ka64 "$p" /1k.bin 2 "$spids"
  stop_tracer "$tracer"
  local calls
  calls="$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$work/perf-stat.$name")"
  echo "syscalls size=1k server=$name access_log=on method=perf per_request=$(ratio "$calls" "$requests") rps=$rps"

  local args=() q
  for q in $spids; do args+=(-p "$q"); done
  strace -c -f -o "$work/strace.$name" "${args[@]}" 2>/dev/null &
  tracer="$!"
  sleep 0.5
  run_load ka64 "$p" /1k.bin 2 "$spids"
  stop_tracer "$tracer"
  # strace -c: "% time seconds usecs/call calls [errors] syscall", then "total".
  local split
  split="$(awk -v r="$requests" '
    $1 ~ /^[0-9.]+$/ && $NF != "total" && NF >= 5 {
      printf "%s%s:%.3f", sep, $NF, $4 / r; sep = ","
      if (NF == 6) printf "(%.3f_failed)", $5 / r
    }
    $NF == "total" {total = $4}
    END {printf " per_request=%.2f", total / r}' "$work/strace.$name")"
  echo "syscalls size=1k server=$name access_log=on method=strace ${split##* } rps=$rps calls=${split% *}"
}
if [ "$count_syscalls" = 1 ]; then
  for s in "${servers[@]}"; do syscalls "$s"; done
fi

# Profiles for the record, if asked.
if [ -n "$perf_dir" ]; then
  mkdir -p "$perf_dir"
  for name in weftd nginx; do
    perf record -q -e cpu-clock -g -o "$perf_dir/$name.data" -p "${pids_of[$name]// /,}" 2>/dev/null &
    tracer="$!"
    sleep 0.3
    run_load ka64 "${port_of[$name]}" /1k.bin "$seconds" "${pids_of[$name]}"
    stop_tracer "$tracer"
    echo "# profile of $name at $rps requests/s: $perf_dir/$name.data" >&2
  done
fi

echo "# done in $SECONDS s" >&2
exit "$status"
