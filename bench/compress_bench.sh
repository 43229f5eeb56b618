#!/usr/bin/env bash
# Compression on the fly: a 100 KiB HTML file asked for with
# `Accept-Encoding: gzip`, served by weftd (which compresses each coding of a
# file once and keeps it in its file cache), nginx (`gzip on`, its defaults:
# level 1, compressed per request) and h2o (`compress: ON`, per request),
# one after the other in one invocation; one line per server on stdout.
#
#   bazel run -c opt //bench:compress
#   compress server=weftd rps=... rps_per_server_cpu_s=... server_cpu=... gzip_bytes=...
#       ratio_vs_nginx=... ratio_vs_h2o=... target=3.00xnginx met=yes
#
# Method. Each server runs with one worker pinned to CPU 0, access log off,
# on a generated docroot holding 100k.html (HTML-like text that compresses
# about 5x). Before any load, each answer is fetched with curl --compressed
# and compared with the file, and its Content-Encoding must be gzip. Then
# wrk -t1 -c50 (pinned to CPU 1) with the header, a 1 s warm-up run and a
# --seconds run; rps_per_server_cpu_s divides the completed requests by the
# server's CPU time in the run (utime + stime of its processes), the fair
# figure whichever side saturates. gzip_bytes is the compressed size the
# server sent (levels differ: weftd 6, nginx 1, h2o its default).
#
# Options: --seconds=N (default 5), --port=N (first of three, default 18580),
# --weftd=PATH. Exit status 1 if an answer differs or a run saw errors.
set -euo pipefail

seconds=5
port=18580
weftd=""
for arg in "$@"; do
  case "$arg" in
    --seconds=*) seconds="${arg#*=}" ;;
    --port=*) port="${arg#*=}" ;;
    --weftd=*) weftd="${arg#*=}" ;;
    *)
      echo "compress_bench: unknown option '$arg' (accepted: --seconds=N --port=N --weftd=PATH)" >&2
      exit 2
      ;;
  esac
done
# weftd: --weftd, else the runfiles copy (bazel run), else bazel-bin.
lib="bench/bench_lib.sh"  # the runfiles copy (bazel run runs from the runfiles root)
[ -f "$lib" ] || lib="$(dirname "$0")/bench_lib.sh"
source "$lib" compress_bench
for tool in wrk nginx h2o curl taskset python3; do
  command -v "$tool" >/dev/null || {
    echo "compress_bench: $tool is missing (tools/bootstrap installs it)" >&2
    exit 1
  }
done

bench_workdir
docroot="$work/root"
mkdir -p "$docroot"
chmod 755 "$docroot"
python3 - "$docroot/100k.html" <<'EOF'
import random, sys
random.seed(7)
words = "the a server fiber request answer worker ring event socket file cache header body".split()
out = ["<!doctype html><html><head><title>weft</title></head><body>\n"]
size = len(out[0])
i = 0
while size < 100 * 1024:
    line = '<p class="c%d">%s</p>\n' % (i % 50, " ".join(random.choice(words) for _ in range(12)))
    out.append(line)
    size += len(line)
    i += 1
sys.stdout = open(sys.argv[1], "w")
sys.stdout.write("".join(out)[: 100 * 1024])
EOF

hz="$(getconf CLK_TCK)"

declare -A spids
taskset -c 0 "$weftd" --root="$docroot" --port="$port" --threads=1 --access-log=off \
  --error-log="$work/weftd.err" >/dev/null 2>&1 &
pids+=("$!")
spids[weftd]="$!"
wait_listening "$port" "$!" weftd /100k.html

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
  gzip on;
  keepalive_requests 100000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server { listen 127.0.0.1:$((port + 1)); root $docroot; }
}
EOF
taskset -c 0 nginx -e "$work/nginx.err" -p "$work/nginx/" -c "$work/nginx/nginx.conf" \
  >/dev/null 2>&1 &
pids+=("$!")
wait_listening "$((port + 1))" "$!" nginx /100k.html
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
hosts:
  default:
    paths:
      /:
        file.dir: $docroot
        compress: ON
EOF
} >"$work/h2o.conf"
taskset -c 0 h2o -c "$work/h2o.conf" >/dev/null 2>&1 &
pids+=("$!")
spids[h2o]="$!"
wait_listening "$((port + 2))" "$!" h2o /100k.html

declare -A per_cpu
lines=()
status=0
for name in weftd nginx h2o; do
  case "$name" in weftd) p=$port ;; nginx) p=$((port + 1)) ;; h2o) p=$((port + 2)) ;; esac
  url="http://127.0.0.1:$p/100k.html"
  enc="$(curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' "$url" | tr -d '\r' |
    awk -F': ' 'tolower($1) == "content-encoding" {print $2}')"
  gz_bytes="$(curl -s -H 'Accept-Encoding: gzip' "$url" | wc -c)"
  if [ "$enc" != gzip ] || ! cmp -s <(curl -s --compressed "$url") "$docroot/100k.html"; then
    echo "compress_bench: $name did not answer 100k.html gzip-encoded and byte-exact (Content-Encoding: ${enc:-none})" >&2
    status=1
    continue
  fi
  taskset -c 1 wrk -t1 -c50 -d1s -H 'Accept-Encoding: gzip' "$url" >/dev/null
  c0="$(ticks_of ${spids[$name]})"
  out="$(taskset -c 1 wrk -t1 -c50 -d"${seconds}s" -H 'Accept-Encoding: gzip' "$url")"
  c1="$(ticks_of ${spids[$name]})"
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
    echo "compress_bench: $name: errors in the run:" >&2
    echo "$out" >&2
    status=1
  fi
  requests="$(awk '/requests in/ {print $1}' <<<"$out")"
  read -r rps scpu per < <(python3 - "$requests" "$seconds" "$hz" "$c0" "$c1" <<'EOF'
import sys
req, secs, hz, c0, c1 = (float(x) for x in sys.argv[1:])
server = (c1 - c0) / hz
print(f"{req / secs:.0f} {server / secs:.2f} {req / server if server > 0 else 0:.0f}")
EOF
  )
  per_cpu[$name]="$per"
  line="compress server=$name rps=$rps rps_per_server_cpu_s=$per server_cpu=$scpu gzip_bytes=$gz_bytes"
  lines+=("$line")
done
for line in "${lines[@]}"; do
  name="$(sed 's/.*server=\([a-z0-9]*\).*/\1/' <<<"$line")"
  if [ "$name" = weftd ] && [ -n "${per_cpu[nginx]:-}" ] && [ -n "${per_cpu[h2o]:-}" ]; then
    read -r rn rh met < <(python3 -c "
w, n, h = ${per_cpu[weftd]}, ${per_cpu[nginx]}, ${per_cpu[h2o]}
print(f'{w / n:.2f} {w / h:.2f} {\"yes\" if w / n >= 3 else \"no\"}')")
    line="$line ratio_vs_nginx=$rn ratio_vs_h2o=$rh target=3.00xnginx met=$met"
  fi
  echo "$line"
done
exit "$status"
