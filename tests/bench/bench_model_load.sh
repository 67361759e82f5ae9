#!/bin/sh
# bench_model_load.sh -- memory to load a ~1 GB ALS model (issue #3: "loading
# a 1 GB model must not need more than ~1.1 GB of memory").  The model has
# 4,000,000 users ("user-00000000", 13 bytes) and 50,000 items
# ("sku-000000"), f=64, random factors: `build/bench/bench_als modelio`
# writes it once into tests/bench/data/ (and prints its own in-process load
# figures); then a fresh `recpipe` process loads it with rp.als.load
# (tests/bench/als_load.lua) under /usr/bin/time -v.  Printed: peak RSS of
# that whole process (binary, Lua and libraries included) and the peak of
# rp.memory() (every core allocation) during the load, each against the
# file's size; the median of RUNS loads.
#   RUNS=3 sh tests/bench/bench_model_load.sh      (make bench runs it)
BIN=${BIN:-./recpipe}
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
NUSERS=${NUSERS:-4000000}
LOCK=${RECPIPE_BENCH_LOCK-flock /tmp/recpipe-bench.lock}
D=tests/bench/data
mkdir -p "$D"
MODEL=$D/model${NUSERS}.rpm
[ -x "$BUILD/bench/bench_als" ] || { echo "bench_model_load: build $BUILD/bench/bench_als first (make bench)" >&2; exit 1; }
echo "load before: $(uptime | sed 's/.*load average: //')"
if [ ! -s "$MODEL" ]; then
  $LOCK "$BUILD/bench/bench_als" modelio "$NUSERS" 64 "$MODEL" | sed 's/^/bench_als modelio: /' || exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq "$RUNS"); do
  $LOCK /usr/bin/time -v "$BIN" run --quiet tests/bench/als_load.lua "$MODEL" >"$out.run" 2>"$out.time" || {
    cat "$out.run" "$out.time"; exit 1; }
  rss=$(awk '/Maximum resident/ {print $6}' "$out.time")
  echo "$(grep '^RESULT' "$out.run") rss_kb=$rss" >>"$out"
done
rm -f "$out.run" "$out.time"
# the same binary starting and doing nothing: what the process holds anyway
$LOCK /usr/bin/time -v "$BIN" run --quiet tests/bench/als_load.lua >/dev/null 2>"$out.idle" || true
idle=$(awk '/Maximum resident/ {print $6}' "$out.idle")
rm -f "$out.idle"
echo "load after: $(uptime | sed 's/.*load average: //')"
awk -v idle="${idle:-0}" '
  { for (i = 3; i <= NF; i++) { split($i, kv, "="); v[NR, kv[1]] = kv[2] } n = NR }
  function median(key,   a, k, j, t) {
    for (k = 1; k <= n; k++) a[k] = v[k, key] + 0
    for (k = 1; k <= n; k++) for (j = k + 1; j <= n; j++) if (a[j] < a[k]) { t = a[k]; a[k] = a[j]; a[j] = t }
    return a[int((n + 1) / 2)]
  }
  END {
    file = v[1, "file"]; sec = median("seconds"); peak = median("peak"); rss = median("rss_kb") * 1024
    printf "model: %d users, %d items, f=%d; file %.1f MiB\n", v[1, "users"], v[1, "items"], v[1, "factors"], file / 1048576
    printf "load (median of %d): %.2f s\n", n, sec
    printf "peak rp.memory() during the load: %.1f MiB = %.3fx the file (target <= 1.10x)\n", peak / 1048576, peak / file
    printf "peak RSS of the whole process (/usr/bin/time -v): %.1f MiB = %.3fx the file (%.1f MiB without the %.1f MiB an idle recpipe holds: %.3fx)\n",
      rss / 1048576, rss / file, (rss - idle * 1024) / 1048576, idle / 1024, (rss - idle * 1024) / file
  }' "$out"
