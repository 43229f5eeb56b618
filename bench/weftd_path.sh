# Sourced by the benchmark scripts: sets `weftd` to the weftd binary to run,
# unless a --weftd=PATH flag set it already: the runfiles copy (bazel run),
# else bazel-bin beside the script. Exits 2 naming the script ($1) if none.
if [ -z "${weftd:-}" ]; then
  for c in weftd/weftd "$(dirname "$0")/../bazel-bin/weftd/weftd"; do
    if [ -x "$c" ]; then weftd="$c" && break; fi
  done
fi
if [ -z "${weftd:-}" ] || [ ! -x "$weftd" ]; then
  echo "$1: no weftd binary; run through 'bazel run -c opt //bench:${1%_bench}' or pass --weftd=PATH" >&2
  exit 2
fi
