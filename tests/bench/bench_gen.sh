#!/bin/sh
# rp.gen.events at benchmark scale: 10 million events (200,000 users, 50,000
# items, 16 clusters), plain CSV and gzip (levels 6 and 1), median of RUNS
# runs (default 3),
# with peak RSS (/usr/bin/time) and the core's peak bytes (rp.memory).
# Reference: the lead's synth.py (numpy + pandas, a simpler 4-column model)
# writing the same number of rows, one run, when /usr/bin/python3 and
# ../shared/tools/synth.py exist (BENCH_REFERENCE=0 skips it).
# Timings run under flock /tmp/recpipe-bench.lock so they do not overlap
# other benchmarks on the shared machine.
BIN=${BIN:-./recpipe}
RUNS=${RUNS:-3}
EVENTS=${EVENTS:-10000000}
data=tests/bench/data
mkdir -p "$data"
tmp=$(mktemp -d /tmp/recpipe-bench-gen.XXXXXX)
trap 'rm -rf "$tmp" "$data"/gen_bench.*' EXIT
lock() { flock /tmp/recpipe-bench.lock "$@"; }

cat >"$tmp/gen.lua" <<'EOF'
local rp = require "recpipe"
local path, events, level = ...
local t = rp.clock()
local r = rp.gen.events { path = path, users = 200000, items = 50000, clusters = 16,
  events = math.tointeger(tonumber(events)), seed = 1, gzip_level = math.tointeger(tonumber(level)) }
io.write(("%.3f %d %d %d\n"):format(rp.clock() - t, rp.memory().peak, r.bytes, r.pairs))
EOF

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in "csv 6" "csv.gz 6" "csv.gz 1"; do
  ext=${run% *}
  level=${run#* }
  : >"$tmp/secs"
  for r in $(seq "$RUNS"); do
    lock /usr/bin/time -f "%M" -o "$tmp/rss" "$BIN" run --quiet "$tmp/gen.lua" \
      "$data/gen_bench.$ext" "$EVENTS" "$level" >"$tmp/out" || exit 1
    read -r secs peak bytes pairs <"$tmp/out"
    echo "$secs" >>"$tmp/secs"
    rss=$(cat "$tmp/rss")
  done
  med=$(median <"$tmp/secs")
  size=$(stat -c %s "$data/gen_bench.$ext")
  [ "$ext" = csv ] || ext="$ext (level $level)"
  printf 'gen %s events -> %s: median %.2f s of %s runs (%s), %.0f MB/s of CSV text, file %.0f MB, peak RSS %.0f MB, rp.memory peak %.0f MB, %s distinct pairs\n' \
    "$EVENTS" "$ext" "$med" "$RUNS" "$(tr '\n' ' ' <"$tmp/secs" | sed 's/ $//')" \
    "$(echo "$bytes $med" | awk '{ print $1 / 1e6 / $2 }')" "$(echo "$size" | awk '{ print $1 / 1e6 }')" \
    "$(echo "$rss" | awk '{ print $1 / 1024 }')" "$(echo "$peak" | awk '{ print $1 / 1048576 }')" "$pairs"
done
if [ "${BENCH_REFERENCE:-1}" != 0 ] && [ -x /usr/bin/python3 ] && [ -f ../shared/tools/synth.py ]; then
  start=$(date +%s.%N)
  lock /usr/bin/time -f "%M" -o "$tmp/rss" /usr/bin/python3 ../shared/tools/synth.py \
    "$data/gen_bench.ref.csv" "$EVENTS" >/dev/null 2>&1 &&
    printf 'reference synth.py (numpy + pandas) %s rows: %.2f s (1 run), peak RSS %.0f MB\n' "$EVENTS" \
      "$(echo "$(date +%s.%N) $start" | awk '{ print $1 - $2 }')" "$(awk '{ print $1 / 1024 }' "$tmp/rss")"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
