#!/usr/bin/env bash
# HTTPS: weftd --tls-cert against nginx (`listen ... ssl`) and h2o (`ssl:`),
# the same certificate (P-256) and files, one after the other in one
# invocation; one line per server and row on stdout, with the ratios.
#
#   bazel run -c opt //bench:tls
#   tls row=keepalive-1k server=weftd rps=... rps_per_server_cpu_s=... server_cpu=...
#       ratio_vs_nginx=... ratio_vs_h2o=...
#
# Rows: keepalive-1k (a 1 KiB file, wrk -c50 on keep-alive connections: the
# record layer), close-1k (the same with "Connection: close": a full
# handshake per request, ECDHE on P-256), keepalive-1m (a 1 MiB file, -c10:
# bulk encryption; weftd reads and encrypts it, as this kernel has no kernel
# TLS for sendfile).
#
# Method. Each server runs with one worker pinned to CPU 0, access log off;
# every answer is first fetched with curl over TLS and compared with the
# file. wrk (pinned to CPU 1) runs 1 s to warm up, then --seconds;
# rps_per_server_cpu_s divides the completed requests by the server's CPU
# time in the run (utime + stime of its processes), the fair figure
# whichever side saturates.
#
# Options: --seconds=N (default 5), --port=N (first of three, default 18680),
# --weftd=PATH. Exit status 1 if an answer differs or a run saw errors.
set -euo pipefail

seconds=5
port=18680
weftd=""
for arg in "$@"; do
  case "$arg" in
    --seconds=*) seconds="${arg#*=}" ;;
    --port=*) port="${arg#*=}" ;;
    --weftd=*) weftd="${arg#*=}" ;;
    *)
      echo "tls_bench: unknown option '$arg' (accepted: --seconds=N --port=N --weftd=PATH)" >&2
      exit 2
      ;;
  esac
done
lib="bench/bench_lib.sh"  # the runfiles copy (bazel run runs from the runfiles root)
[ -f "$lib" ] || lib="$(dirname "$0")/bench_lib.sh"
source "$lib" tls_bench
for tool in wrk nginx h2o curl taskset python3 openssl; do
  command -v "$tool" >/dev/null || {
    echo "tls_bench: $tool is missing (tools/bootstrap installs it)" >&2
    exit 1
  }
done

bench_workdir
docroot="$work/root"
mkdir -p "$docroot"
chmod 755 "$docroot"
head -c 1024 /dev/urandom | base64 -w 0 | head -c 1024 >"$docroot/1k.txt"
head -c 1048576 /dev/urandom >"$docroot/1m.bin"
chmod 644 "$docroot"/*
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
chmod 644 "$work/key.pem" "$work/cert.pem"
hz="$(getconf CLK_TCK)"

declare -A spids
taskset -c 0 "$weftd" --root="$docroot" --port="$port" --threads=1 --access-log=off \
  --tls-cert="$work/cert.pem" --tls-key="$work/key.pem" --error-log="$work/weftd.err" \
  >/dev/null 2>&1 &
pids+=("$!")
spids[weftd]="$!"
wait_listening "$port" "$!" weftd /1k.txt https

mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on;
  keepalive_requests 100000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  ssl_certificate $work/cert.pem;
  ssl_certificate_key $work/key.pem;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:10m;
  server { listen 127.0.0.1:$((port + 1)) ssl; root $docroot; }
}
EOF
taskset -c 0 nginx -e "$work/nginx.err" -p "$work/nginx/" -c "$work/nginx/nginx.conf" \
  >/dev/null 2>&1 &
pids+=("$!")
wait_listening "$((port + 1))" "$!" nginx /1k.txt https
spids[nginx]="$! $(pgrep -P "$!" | head -n 1)"

{
  if [ "$(id -u)" = 0 ]; then echo "user: root"; fi
  cat <<EOF
pid-file: $work/h2o.pid
error-log: $work/h2o.err
num-threads: 1
listen:
  host: 127.0.0.1
  port: $((port + 2))
  ssl:
    certificate-file: $work/cert.pem
    key-file: $work/key.pem
    minimum-version: TLSv1.2
hosts:
  default:
    paths:
      /:
        file.dir: $docroot
EOF
} >"$work/h2o.conf"
taskset -c 0 h2o -c "$work/h2o.conf" >/dev/null 2>&1 &
pids+=("$!")
spids[h2o]="$!"
wait_listening "$((port + 2))" "$!" h2o /1k.txt https

status=0
for row in keepalive-1k close-1k keepalive-1m; do
  case "$row" in
    keepalive-1k) file=1k.txt conns=50 header="X-Bench: 1" ;;
    close-1k) file=1k.txt conns=50 header="Connection: close" ;;
    keepalive-1m) file=1m.bin conns=10 header="X-Bench: 1" ;;
  esac
  declare -A per_cpu=()
  lines=()
  for name in weftd nginx h2o; do
    case "$name" in weftd) p=$port ;; nginx) p=$((port + 1)) ;; h2o) p=$((port + 2)) ;; esac
    url="https://127.0.0.1:$p/$file"
    if ! cmp -s <(curl -sk "$url") "$docroot/$file"; then
      echo "tls_bench: $name did not answer $file byte-exact over TLS" >&2
      status=1
      continue
    fi
    taskset -c 1 wrk -t1 -c"$conns" -d1s -H "$header" "$url" >/dev/null
    c0="$(ticks_of ${spids[$name]})"
    out="$(taskset -c 1 wrk -t1 -c"$conns" -d"${seconds}s" -H "$header" "$url")"
    c1="$(ticks_of ${spids[$name]})"
    if grep -q "Non-2xx" <<<"$out" ||
      { [ "$row" != close-1k ] && grep -q "Socket errors" <<<"$out"; }; then
      echo "tls_bench: $name ($row): errors in the run:" >&2
      echo "$out" >&2
      status=1
    fi
    requests="$(awk '/requests in/ {print $1}' <<<"$out")"
    read -r rps scpu per < <(python3 - "$requests" "$seconds" "$hz" "$c0" "$c1" <<'PY'
import sys
req, secs, hz, c0, c1 = (float(x) for x in sys.argv[1:])
server = (c1 - c0) / hz
print(f"{req / secs:.0f} {server / secs:.2f} {req / server if server > 0 else 0:.0f}")
PY
    )
    per_cpu[$name]="$per"
    lines+=("tls row=$row server=$name rps=$rps rps_per_server_cpu_s=$per server_cpu=$scpu")
  done
  for line in "${lines[@]}"; do
    if [[ "$line" == *server=weftd* ]] && [ -n "${per_cpu[nginx]:-}" ] &&
      [ -n "${per_cpu[h2o]:-}" ]; then
      read -r rn rh < <(python3 -c "
w, n, h = ${per_cpu[weftd]}, ${per_cpu[nginx]}, ${per_cpu[h2o]}
print(f'{w / n:.2f} {w / h:.2f}' if n and h else '0 0')")
      line="$line ratio_vs_nginx=$rn ratio_vs_h2o=$rh"
    fi
    echo "$line"
  done
done
exit "$status"
