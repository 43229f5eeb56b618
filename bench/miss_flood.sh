#!/usr/bin/env bash
# A flood of requests for missing files beside a workload of hits, on one
# weftd: what the misses cost the hits, with the negative cache off
# (--negative-ttl=0, every miss an openat2 + fstat on the blocking pool) and
# on (the default). Misses cycle over 100 names (a scanner, stale links), or
# are all distinct ("unique": what no name-keyed cache can answer).
#
# Usage: bench/miss_flood.sh [SECONDS]   (builds weftd with -c opt first)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
bazel build -c opt //weftd >/dev/null 2>&1
weftd=bazel-bin/weftd/weftd
dir="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
head -c 1024 /dev/urandom >"$dir/hit.bin"
cat >"$dir/cycle.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/missing-" .. (n % 100))
end
LUA
cat >"$dir/unique.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/random-" .. math.random(1, 1000000000) .. "-" .. n)
end
LUA

run() {  # run TTL MISSES(cycle|unique|none)
  local ttl="$1" misses="$2"
  rm -f "$dir/port" "$dir/access.log"
  "$weftd" --root="$dir" --io=epoll --threads=2 --port=0 --port-file="$dir/port" \
    --access-log="$dir/access.log" --error-log="$dir/error.log" --negative-ttl="$ttl" \
    --stats-path=/_stats &
  local pid=$!
  while [[ ! -s "$dir/port" ]]; do sleep 0.05; done
  local port; port="$(cat "$dir/port")"
  if [[ "$misses" != none ]]; then
    wrk -t1 -c50 -d"$((secs + 2))"s -s "$dir/$misses.lua" "http://127.0.0.1:$port/" \
      >"$dir/miss.out" 2>&1 &
  fi
  local flood=$!
  sleep 1
  local hit; hit="$(wrk -t1 -c50 -d"${secs}"s --latency "http://127.0.0.1:$port/hit.bin")"
  [[ "$misses" != none ]] && wait "$flood"
  local stats; stats="$(curl -s "http://127.0.0.1:$port/_stats")"
  kill "$pid"; wait "$pid" || true
  printf 'ttl=%-3s misses=%-6s hits: %s req/s, p50 %s, p99 %s' "$ttl" "$misses" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$hit")" \
    "$(awk '$1 == "50%" {print $2}' <<<"$hit")" "$(awk '$1 == "99%" {print $2}' <<<"$hit")"
  if [[ "$misses" != none ]]; then
    printf '; misses: %s req/s' "$(awk '/Requests\/sec/ {print $2}' "$dir/miss.out")"
  fi
  # Lookups that went to the blocking pool vs answered by the negative cache.
  printf '; pool lookups %s, negative hits %s' \
    "$(grep -o '"misses":[0-9]*' <<<"$stats" | cut -d: -f2)" \
    "$(grep -o '"negative_hits":[0-9]*' <<<"$stats" | cut -d: -f2)"
  printf '\n'
}

for ttl in 0 1; do
  for misses in none cycle unique; do run "$ttl" "$misses"; done
done
