#!/usr/bin/env bash
# Static-file benchmark: weftd against nginx on one generated docroot, one
# line per measurement on stdout.
#
#   bazel run -c opt //bench:static          # about 2 min 10 s
#   static size=1k server=nginx rps=164887 rps_per_server_cpu_s=166214 server_cpu=0.99 ...
#   static size=1k server=weftd rps=174861 rps_per_server_cpu_s=178091 ... ratio_vs_nginx=1.07 ...
#   log size=1k server=weftd access_log=on rps_per_server_cpu_s=151893 ... cost=0.114 target=0.10 met=no
#   syscalls size=1k server=nginx method=perf per_request=5.02 rps=159188
#   ...
#
# Options: --seconds=5 per measurement, --conns=64, --port=18480 (it and the
# next four), --weftd=PATH (default: the runfiles copy), --perf-record=DIR and
# --keep (below).
#
# Method. The docroot is generated in /tmp: random bytes in 1k.bin, 16k.bin,
# 256k.bin and 4m.bin. Every server is a child of this script pinned to CPU 0
# (taskset), serving that docroot on 127.0.0.1; wrk is pinned to CPU 1 with
# one thread and --conns keep-alive connections (64). weftd runs with
# --threads=1 and its default I/O (io_uring), plus --io=epoll for the 1 KiB
# file. nginx runs `worker_processes 1` under its master, with sendfile,
# tcp_nopush, open_file_cache and keepalive_requests high enough that no
# connection is closed during a run (weftd closes none either).
#
# Before any load, each file is fetched once through each server with curl
# and compared byte for byte with the original (cmp).
#
# Each measurement is one wrk run of --seconds after a 1 s warm-up of the
# same server and file. rps is wrk's Requests/sec. rps_per_server_cpu_s
# divides wrk's completed requests by the server's CPU time over the run
# (utime + stime from /proc/<pid>/stat of each server process, which covers
# all its threads; for nginx the master and the worker): what the server pays
# per request whichever side is the bottleneck. ratio_vs_nginx compares that
# figure with nginx's on the same file, throughput_ratio compares rps.
# server_cpu and client_cpu are the share of one core each side used: the
# side near 1.0 is the bottleneck. others_cpu is the rest of the busy time of
# CPUs 0 and 1 (other processes, kernel threads), in cores: well above 0 means
# the run was disturbed.
#
# Logging cost: two instances of each server run side by side (on CPU 0, one
# loaded at a time), one with its access log off and one writing it to a file
# in /tmp (weftd: --access-log=FILE, combined format; nginx: `access_log FILE
# combined`, unbuffered, as nginx writes it by default). They take turns on
# the 1 KiB file, off on on off off on on off, each run --seconds/2 rounded
# up, so a drift in the machine's speed falls on both; cost = 1 - on/off in
# requests per server CPU-second. The target for weftd is cost <= 0.10.
#
# Syscalls per request on the 1 KiB file, each counted while one wrk run of
# 2 s is the only load: `perf stat -e raw_syscalls:sys_enter -p <pids>`
# (cheap, the server's normal batching), then `strace -c -f -p <pids>` for
# which calls they are (strace slows the server several times over, which
# changes the batching, so its total differs from perf's).
#
# The machine may be shared: before loading anything the script waits up to
# 30 s for CPUs 0 and 1 to be 95% idle over 2 s, and says on stderr if they
# never were. others_cpu on each line tells what happened during the run.
#
# --perf-record=DIR also records `perf record -e cpu-clock -g` of weftd and of
# nginx on the 1 KiB file for --seconds each, into DIR/weftd.data and
# DIR/nginx.data. --keep leaves the /tmp directory (docroot, logs, configs).
#
# Exit status 1 if a response differs, a wrk run saw errors or non-2xx
# answers, or a server would not start. The servers are stopped on any exit.
set -euo pipefail

seconds=5
conns=64
port=18480  # it and the next four
perf_dir=""
keep=0
weftd=""
for arg in "$@"; do
  case "$arg" in
    --seconds=*) seconds="${arg#*=}" ;;
    --conns=*) conns="${arg#*=}" ;;
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
if [ -z "$weftd" ]; then
  for c in examples/weftd "$(dirname "$0")/../bazel-bin/examples/weftd"; do
    if [ -x "$c" ]; then weftd="$c" && break; fi
  done
fi
if [ -z "$weftd" ] || [ ! -x "$weftd" ]; then
  echo "static_bench: no weftd binary; run through 'bazel run -c opt //bench:static' or pass --weftd=PATH" >&2
  exit 2
fi
case "$perf_dir" in "" | /*) ;; *) perf_dir="${BUILD_WORKING_DIRECTORY:-$PWD}/$perf_dir" ;; esac
for tool in wrk nginx curl taskset strace perf; do
  if ! command -v "$tool" >/dev/null; then
    echo "static_bench: $tool is missing (tools/bootstrap installs it)" >&2
    exit 2
  fi
done

work="$(mktemp -d /tmp/weft-static-bench.XXXXXX)"
docroot="$work/www"
status=0
pids=()    # every server this script started
tracer=""  # the perf or strace attached to one, while it runs

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
cleanup() {
  if [ -n "$tracer" ]; then stop_tracer "$tracer"; fi
  stop_servers
  if [ "$keep" = 1 ]; then echo "# kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------- docroot

mkdir -p "$docroot"
chmod 755 "$work" "$docroot"  # nginx's worker runs as nobody
sizes=(1k 16k 256k 4m)
declare -A bytes=([1k]=1024 [16k]=16384 [256k]=262144 [4m]=4194304)
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
    "$@" >"$work/$name.out" 2>>"$work/$name.err" &
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
daemon off;
pid $work/$name/nginx.pid;
error_log $work/$name.err warn;
events { worker_connections 1024; }
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
    listen 127.0.0.1:$p;
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

# --------------------------------------------------------- measurements

# run_wrk PORT PATH SECONDS PIDS: one wrk run; sets requests, rps, server_cpu
# (core share), server_cpu_s, client_cpu, others_cpu (what else kept CPUs 0
# and 1 busy, in cores), errors.
run_wrk() {
  local p="$1" path="$2" secs="$3" spids="$4"
  local c0 c1 b0 b1 t0 t1 out tm
  out="$work/wrk.out"
  tm="$work/wrk.time"
  read -r b0 _ < <(cpu01_ticks)
  c0="$(cpu_ticks $spids)"
  t0="$(date +%s.%N)"
  if ! { TIMEFORMAT='%U %S' && time taskset -c 1 wrk -t1 -c"$conns" -d"${secs}s" \
    "http://127.0.0.1:$p$path" >"$out"; } 2>"$tm"; then
    echo "static_bench: wrk -t1 -c$conns -d${secs}s http://127.0.0.1:$p$path failed:" >&2
    cat "$out" "$tm" >&2
    exit 1
  fi
  t1="$(date +%s.%N)"
  c1="$(cpu_ticks $spids)"
  read -r b1 _ < <(cpu01_ticks)
  requests="$(awk '/requests in/ {print $1}' "$out")"
  rps="$(awk '/^Requests\/sec:/ {printf "%d", $2}' "$out")"
  errors="$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$out")"
  read -r server_cpu server_cpu_s client_cpu others_cpu < <(awk -v c="$((c1 - c0))" \
    -v b="$((b1 - b0))" -v hz="$hz" -v w="$(echo "$t1 $t0" | awk '{print $1 - $2}')" \
    -v tm="$(cat "$tm")" 'BEGIN {
      split(tm, u, " "); client = u[1] + u[2]; others = b / hz - c / hz - client
      printf "%.2f %.4f %.2f %.2f\n", c / hz / w, c / hz, client / w, (others > 0 ? others : 0) / w
    }')
  if [ "${requests:-0}" = 0 ] || [ "$errors" != 0 ]; then
    echo "static_bench: wrk on port $p $path: ${requests:-0} requests, $errors errors" >&2
    cat "$out" >&2
    status=1
  fi
}

per_cpu_s() { awk -v r="$1" -v c="$2" 'BEGIN {printf "%d", (c > 0 ? r / c : 0)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }

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

# measure LABEL NAME PORT SIZE PIDS [NGINX_PER_CPU NGINX_RPS]: warm-up, run, one line.
measure() {
  local label="$1" name="$2" p="$3" s="$4" spids="$5" ref_cpu="${6:-}" ref_rps="${7:-}"
  run_wrk "$p" "/$s.bin" 1 "$spids"
  run_wrk "$p" "/$s.bin" "$seconds" "$spids"
  last_per_cpu="$(per_cpu_s "$requests" "$server_cpu_s")"
  last_rps="$rps"
  local line="$label size=$s server=$name rps=$rps rps_per_server_cpu_s=$last_per_cpu"
  line+=" server_cpu=$server_cpu client_cpu=$client_cpu others_cpu=$others_cpu"
  if [ -n "$ref_cpu" ]; then
    line+=" ratio_vs_nginx=$(ratio "$last_per_cpu" "$ref_cpu") throughput_ratio=$(ratio "$rps" "$ref_rps")"
  fi
  echo "$line"
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

# Ports: nginx, weftd, weftd epoll, weftd logging, nginx logging.
p_nginx=$port p_weftd=$((port + 1)) p_epoll=$((port + 2)) p_wlog=$((port + 3)) p_nlog=$((port + 4))

start_nginx nginx "$p_nginx" off
nginx_pids="$server_pids"
start_weftd weftd "$p_weftd" --access-log=off
weftd_pids="$server_pids"
start_weftd weftd_epoll "$p_epoll" --access-log=off --io=epoll
epoll_pids="$server_pids"
start_weftd weftd_log "$p_wlog" --access-log="$work/weftd-access.log"
wlog_pids="$server_pids"
start_nginx nginx_log "$p_nlog" "$work/nginx-access.log combined"
nlog_pids="$server_pids"
echo "# weftd $weftd; nginx $(nginx -v 2>&1 | sed 's/.*: //'); pids nginx=$nginx_pids weftd=$weftd_pids;" \
  "$conns connections, ${seconds} s per run; load average $(cut -d' ' -f1 /proc/loadavg)" >&2

wait_idle
for n in nginx:$p_nginx weftd:$p_weftd weftd_epoll:$p_epoll weftd_log:$p_wlog nginx_log:$p_nlog; do
  smoke "${n%%:*}" "${n##*:}"
done
[ "$status" = 0 ] || exit 1

# 1. Throughput and CPU per request, by file size.
declare -A nginx_per_cpu
for s in "${sizes[@]}"; do
  measure static nginx "$p_nginx" "$s" "$nginx_pids"
  nginx_per_cpu[$s]="$last_per_cpu"
  ref_rps="$last_rps"
  measure static weftd "$p_weftd" "$s" "$weftd_pids" "$last_per_cpu" "$ref_rps"
  if [ "$s" = 1k ]; then
    measure static weftd_epoll "$p_epoll" "$s" "$epoll_pids" "${nginx_per_cpu[1k]}" "$ref_rps"
  fi
done

# 2. What the access log costs, off/on/on/off on the 1 KiB file.
half=$(((seconds + 1) / 2))  # wrk takes whole seconds
log_cost() {  # name off_port off_pids on_port on_pids [target]
  local name="$1" target="${6:-}" i p spids
  local -A req=() cpu=() others=()
  run_wrk "$2" /1k.bin 1 "$3"
  run_wrk "$4" /1k.bin 1 "$5"
  for i in off on on off off on on off; do
    if [ "$i" = off ]; then p="$2" spids="$3"; else p="$4" spids="$5"; fi
    run_wrk "$p" /1k.bin "$half" "$spids"
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
log_cost weftd "$p_weftd" "$weftd_pids" "$p_wlog" "$wlog_pids" 0.10
log_cost nginx "$p_nginx" "$nginx_pids" "$p_nlog" "$nlog_pids"

# 3. Syscalls per request on the 1 KiB file.
syscalls() {  # name port pids
  local name="$1" p="$2" spids="$3"
  perf stat -x, -o "$work/perf-stat.$name" -e raw_syscalls:sys_enter -p "${spids// /,}" &
  tracer="$!"
  sleep 0.3
  run_wrk "$p" /1k.bin 2 "$spids"
  stop_tracer "$tracer"
  local calls
  calls="$(awk -F, '/raw_syscalls:sys_enter/ {print $1}' "$work/perf-stat.$name")"
  echo "syscalls size=1k server=$name method=perf per_request=$(ratio "$calls" "$requests") rps=$rps"

  local args=() q
  for q in $spids; do args+=(-p "$q"); done
  strace -c -f -o "$work/strace.$name" "${args[@]}" 2>/dev/null &
  tracer="$!"
  sleep 0.5
  run_wrk "$p" /1k.bin 2 "$spids"
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
  echo "syscalls size=1k server=$name method=strace ${split##* } rps=$rps calls=${split% *}"
}
syscalls weftd "$p_weftd" "$weftd_pids"
syscalls weftd_epoll "$p_epoll" "$epoll_pids"
syscalls nginx "$p_nginx" "$nginx_pids"

# Profiles for the record, if asked.
if [ -n "$perf_dir" ]; then
  mkdir -p "$perf_dir"
  for n in "weftd:$p_weftd:$weftd_pids" "nginx:$p_nginx:$nginx_pids"; do
    IFS=: read -r name p spids <<<"$n"
    perf record -q -e cpu-clock -g -o "$perf_dir/$name.data" -p "${spids// /,}" 2>/dev/null &
    tracer="$!"
    sleep 0.3
    run_wrk "$p" /1k.bin "$seconds" "$spids"
    stop_tracer "$tracer"
    echo "# profile of $name at $rps requests/s: $perf_dir/$name.data" >&2
  done
fi

exit "$status"
