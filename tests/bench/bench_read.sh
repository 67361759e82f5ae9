#!/bin/sh
# bench_read.sh -- rp.io.read_events of a 5-million-row CSV (user_id,item_id,
# value,timestamp; ~126 MB, from ../shared/tools/synth.py) against pandas'
# read_csv of the same file in the same run; MB/s, the ratio, peak memory
# (rp.memory().peak and peak RSS from /usr/bin/time -v) against the size of
# the finished Events, the gzip read, the single-thread read, and the 10M
# reference log when $RECPIPE_BENCH_DATA holds it.
#   RUNS=5 sh tests/bench/bench_read.sh      (make bench runs it)
BIN=${BIN:-./recpipe}
RUNS=${RUNS:-5}
PY=/usr/bin/python3
LOCK="flock /tmp/recpipe-bench.lock"
DATA=tests/bench/data
mkdir -p "$DATA"
CSV=$DATA/synth5m.csv
if [ -n "$RECPIPE_BENCH_DATA" ] && [ -f "$RECPIPE_BENCH_DATA/synth5m.csv" ]; then
  CSV=$RECPIPE_BENCH_DATA/synth5m.csv
fi
if [ ! -f "$CSV" ]; then
  if [ ! -f ../shared/tools/synth.py ]; then
    echo "bench_read: ../shared/tools/synth.py not found; skipped"; exit 0
  fi
  echo "generating $CSV (5e6 events)"
  $PY ../shared/tools/synth.py "$CSV.tmp" 5e6 && mv "$CSV.tmp" "$CSV" || exit 1
fi
[ -f "$CSV.gz" ] || { gzip -c "$CSV" > "$CSV.gz.tmp" && mv "$CSV.gz.tmp" "$CSV.gz"; } || exit 1
LUA=tests/bench/io_read.lua
out=$(mktemp)
echo "load before: $(uptime | sed 's/.*load/load/')"
$LOCK $PY tests/bench/pandas_read.py "$CSV" "$RUNS" | tee -a "$out" || exit 1
$LOCK "$BIN" run --quiet $LUA "$CSV" "$RUNS" | tee -a "$out" || exit 1
$LOCK "$BIN" run --quiet $LUA "$CSV" "$RUNS" 1 | sed 's/^RESULT recpipe/RESULT single/' | tee -a "$out"
$LOCK "$BIN" run --quiet $LUA "$CSV.gz" "$RUNS" | sed 's/^RESULT recpipe/RESULT gzip/' | tee -a "$out"
rss=$($LOCK /usr/bin/time -v "$BIN" run --quiet $LUA "$CSV" 1 2>&1 >/dev/null |
      awk '/Maximum resident/ {print $6}')
echo "load after: $(uptime | sed 's/.*load/load/')"
awk -v rss="$rss" '
  /^RESULT/ { for (i = 3; i <= NF; i++) { split($i, kv, "="); v[$2, kv[1]] = kv[2] } }
  END {
    p = v["pandas", "seconds"]; r = v["recpipe", "seconds"]; mb = v["recpipe", "mb"]
    obj = v["recpipe", "columns"] + v["recpipe", "maps"]
    printf "read_events: %.3f s, %.0f MB/s; pandas read_csv: %.3f s; speed-up %.2fx (target >= 4x)\n", r, mb / r, p, p / r
    printf "single thread: %.3f s (%.0f MB/s, %.2fx pandas); gzip: %.3f s (%.0f MB/s of text)\n",
      v["single", "seconds"], mb / v["single", "seconds"], p / v["single", "seconds"],
      v["gzip", "seconds"], mb / v["gzip", "seconds"]
    printf "Events: %.1f MB columns + %.1f MB id maps = %.1f MB\n", v["recpipe", "columns"] / 1e6, v["recpipe", "maps"] / 1e6, obj / 1e6
    printf "peak rp.memory() during the read: %.1f MB = %.2fx the Events (limit 3x)\n", v["recpipe", "peak"] / 1e6, v["recpipe", "peak"] / obj
    printf "peak RSS of the whole process (/usr/bin/time -v): %.1f MB = %.2fx the Events (limit 3x)\n", rss * 1024 / 1e6, rss * 1024 / obj
  }' "$out"
rm -f "$out"
if [ -n "$RECPIPE_BENCH_DATA" ] && [ -f "$RECPIPE_BENCH_DATA/synth10m.csv" ]; then
  $LOCK "$BIN" run --quiet $LUA "$RECPIPE_BENCH_DATA/synth10m.csv" 3 | head -1
fi
