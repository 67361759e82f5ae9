#!/bin/sh
# One machine, 100 million events (RESULTS.md section "dist", issue 12):
# the 10M synthetic log ten times over, each copy with other user ids, as
# ten files read as one log (rp.io.read_events over a glob); then
# tests/bench/scale100m.lua: split, k-core, ALS f = 64 5 iterations,
# evaluate, each stage's time and memory against the formulas.
#
#   BENCH_100M=1 sh tests/bench/bench_100m.sh     (about 2.7 GB of files
#                                                   under tests/bench/data)
# Skipped by `make bench` unless BENCH_100M=1.
BIN=${BIN:-./recpipe}
[ "${BENCH_100M:-0}" = 1 ] || { echo "bench_100m: SKIP (set BENCH_100M=1: 100M events, ~10 GB peak)"; exit 0; }
SRC=${RECPIPE_BENCH_DATA:-tests/bench/data}
[ -d "$SRC" ] && SRC=$SRC/synth10m.csv
[ -s "$SRC" ] || { echo "bench_100m: SKIP ($SRC absent; see bench_als.sh)"; exit 0; }
D=tests/bench/data/synth100m
mkdir -p "$D"
if [ ! -f "$D/ready" ]; then
  for k in 0 1 2 3 4 5 6 7 8 9; do
    awk -F, -v k=$k 'NR == 1 {print; next} {print ($1 + k * 10000000) "," $2 "," $3 "," $4}' \
      "$SRC" >"$D/part-$k.csv" || exit 1
  done
  echo done >"$D/ready"
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB, load $(uptime | sed 's/.*load average: //')"
"$BIN" run --quiet tests/bench/scale100m.lua "$D"
echo "load after: $(uptime | sed 's/.*load average: //')"
