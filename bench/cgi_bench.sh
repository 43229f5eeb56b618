#!/usr/bin/env bash
# CGI: a hello script run per request by weftd (--cgi) and by lighttpd
# (mod_cgi), one after the other in one invocation; one line per server.
#
#   bazel run -c opt //bench:cgi
#   cgi server=weftd rps=... rps_per_server_cpu_s=... server_cpu=... script_cpu=...
#       ratio_vs_lighttpd=... target=1.00xlighttpd met=yes
#
# Method. Each server runs with one worker pinned to CPU 0, access log off;
# the script (/bin/sh printing a header and "hello") is the same file for
# both. wrk -t1 -c8 (pinned to CPU 1) for a 1 s warm-up and --seconds of
# measurement. rps_per_server_cpu_s divides the completed requests by the
# server process's own CPU time (utime + stime), which leaves out the
# scripts: they cost both servers the same fork and exec, and their time
# (script_cpu, cores) shows up in the children's columns (cutime + cstime)
# once reaped. Each answer is checked with curl first.
#
# Options: --seconds=N (default 5), --port=N (first of two, default 18590),
# --weftd=PATH. Exit status 1 if an answer differs or a run saw errors.
set -euo pipefail

seconds=5
port=18590
weftd=""
for arg in "$@"; do
  case "$arg" in
    --seconds=*) seconds="${arg#*=}" ;;
    --port=*) port="${arg#*=}" ;;
    --weftd=*) weftd="${arg#*=}" ;;
    *)
      echo "cgi_bench: unknown option '$arg' (accepted: --seconds=N --port=N --weftd=PATH)" >&2
      exit 2
      ;;
  esac
done
lib="bench/bench_lib.sh"  # the runfiles copy (bazel run runs from the runfiles root)
[ -f "$lib" ] || lib="$(dirname "$0")/bench_lib.sh"
source "$lib" cgi_bench
for tool in wrk lighttpd curl taskset python3; do
  command -v "$tool" >/dev/null || {
    echo "cgi_bench: $tool is missing (tools/bootstrap installs it)" >&2
    exit 1
  }
done

bench_workdir
mkdir -p "$work/cgi-bin" "$work/root"
printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\nhello\\n"\n' >"$work/cgi-bin/hello"
chmod 755 "$work/cgi-bin" "$work/root" "$work/cgi-bin/hello"

hz="$(getconf CLK_TCK)"

declare -A spid
taskset -c 0 "$weftd" --root="$work/root" --port="$port" --threads=1 --access-log=off \
  --error-log="$work/weftd.err" --cgi="/cgi-bin=$work/cgi-bin" >/dev/null 2>&1 &
pids+=("$!")
spid[weftd]="$!"
wait_listening "$port" "$!" weftd /cgi-bin/hello

cat >"$work/lighttpd.conf" <<EOF
server.document-root = "$work/root"
server.bind = "127.0.0.1"
server.port = $((port + 1))
server.errorlog = "$work/lighttpd.err"
server.max-worker = 0
server.event-handler = "linux-sysepoll"
server.modules = ("mod_alias", "mod_cgi")
alias.url = ("/cgi-bin/" => "$work/cgi-bin/")
cgi.assign = ("" => "")
EOF
taskset -c 0 lighttpd -D -f "$work/lighttpd.conf" >/dev/null 2>&1 &
pids+=("$!")
spid[lighttpd]="$!"
wait_listening "$((port + 1))" "$!" lighttpd /cgi-bin/hello

declare -A per_cpu
lines=()
status=0
for name in weftd lighttpd; do
  case "$name" in weftd) p=$port ;; lighttpd) p=$((port + 1)) ;; esac
  url="http://127.0.0.1:$p/cgi-bin/hello"
  if [ "$(curl -s "$url")" != hello ]; then
    echo "cgi_bench: $name did not answer the script's 'hello'" >&2
    status=1
    continue
  fi
  taskset -c 1 wrk -t1 -c8 -d1s "$url" >/dev/null
  read -r s0 k0 < <(proc_ticks "${spid[$name]}")
  out="$(taskset -c 1 wrk -t1 -c8 -d"${seconds}s" "$url")"
  read -r s1 k1 < <(proc_ticks "${spid[$name]}")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
    echo "cgi_bench: $name: errors in the run:" >&2
    echo "$out" >&2
    status=1
  fi
  requests="$(awk '/requests in/ {print $1}' <<<"$out")"
  read -r rps scpu kcpu per < <(python3 - "$requests" "$seconds" "$hz" "$s0" "$s1" "$k0" "$k1" <<'EOF'
import sys
req, secs, hz, s0, s1, k0, k1 = (float(x) for x in sys.argv[1:])
server = (s1 - s0) / hz
print(f"{req / secs:.0f} {server / secs:.2f} {(k1 - k0) / hz / secs:.2f} "
      f"{req / server if server > 0 else 0:.0f}")
EOF
  )
  per_cpu[$name]="$per"
  lines+=("cgi server=$name rps=$rps rps_per_server_cpu_s=$per server_cpu=$scpu script_cpu=$kcpu")
done
for line in "${lines[@]}"; do
  if [[ "$line" == *"server=weftd "* ]] && [ -n "${per_cpu[lighttpd]:-}" ]; then
    read -r r met < <(python3 -c "
w, l = ${per_cpu[weftd]}, ${per_cpu[lighttpd]}
print(f'{w / l:.2f} {\"yes\" if w / l >= 1 else \"no\"}')")
    line="$line ratio_vs_lighttpd=$r target=1.00xlighttpd met=$met"
  fi
  echo "$line"
done
exit "$status"
