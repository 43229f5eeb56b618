# Sourced by the benchmark scripts, after they parse their flags, with the
# script's name as $1 (cgi_bench, compress_bench, static_bench):
#   - sets `weftd` to the weftd binary unless --weftd=PATH set it: the
#     runfiles copy (bazel run), else bazel-bin beside the script; exits 2
#     if there is none;
#   - bench_workdir: a world-readable directory in $work (nginx's worker runs
#     as www-data when started as root), removed with the servers in `pids`
#     on exit;
#   - proc_ticks PID: its utime + stime, then cutime + cstime, in clock ticks;
#   - ticks_of PID...: the processes' own ticks (utime + stime), summed;
#   - wait_listening PORT PID NAME PATH [https]: until GET PATH answers on
#     PORT (over TLS, any certificate, with https), or exits 1 showing
#     $work/NAME.err if the server died or never listened.
bench_name="$1"
if [ -z "${weftd:-}" ]; then
  for c in weftd/weftd "$(dirname "$0")/../bazel-bin/weftd/weftd"; do
    if [ -x "$c" ]; then weftd="$c" && break; fi
  done
fi
if [ -z "${weftd:-}" ] || [ ! -x "$weftd" ]; then
  echo "$bench_name: no weftd binary; run through 'bazel run -c opt //bench:${bench_name%_bench}' or pass --weftd=PATH" >&2
  exit 2
fi

bench_workdir() {
  work="$(mktemp -d "/tmp/weft-${bench_name}-XXXXXX")"
  chmod 755 "$work"
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

proc_ticks() {
  local f
  read -ra f < <(sed 's/^.*) //' "/proc/$1/stat")  # from field 3 on; comm may hold spaces
  echo "$((f[11] + f[12])) $((f[13] + f[14]))"
}

ticks_of() {
  local total=0 p own children
  for p in "$@"; do
    read -r own children < <(proc_ticks "$p")
    total=$((total + own))
  done
  echo "$total"
}

wait_listening() {
  for _ in $(seq 50); do
    curl -sk -o /dev/null "${5:-http}://127.0.0.1:$1$4" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "$bench_name: $3 did not start on port $1" >&2
  cat "$work/$3.err" >&2 2>/dev/null || true
  exit 1
}
