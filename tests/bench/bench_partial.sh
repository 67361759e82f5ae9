#!/bin/sh
# partial_fit_users on the 10M-event reference log (RESULTS.md section
# "als: partial fits"): 1,000 users in one call (median of 5 calls; anchor
# under 20 ms) and one user a call (median and p99 of 2,000 calls; anchor
# under 50 us), f = 64, on a model trained 3 CG iterations, all cores.
#
#   sh tests/bench/bench_partial.sh
#
# The log: $RECPIPE_BENCH_DATA (a file) or tests/bench/data/synth10m.csv
# (../shared/tools/synth.py; link it there); skipped when absent.
BUILD=${BUILD:-build}
LOCK=${RECPIPE_BENCH_LOCK-flock /tmp/recpipe-bench.lock}
LOG=${RECPIPE_BENCH_DATA:-tests/bench/data/synth10m.csv}
[ -f "$RECPIPE_BENCH_DATA/synth10m.csv" ] && LOG=$RECPIPE_BENCH_DATA/synth10m.csv
if [ ! -s "$LOG" ]; then
  echo "bench_partial: $LOG absent, skipped" >&2
  exit 0
fi
[ -x "$BUILD/bench/bench_als" ] || { echo "bench_partial: build $BUILD/bench/bench_als first (make bench)" >&2; exit 1; }
echo "machine: $(nproc) cores, load $(uptime | sed 's/.*load average: //')"
$LOCK "$BUILD/bench/bench_als" partial "$LOG" 64 1000 5 2000
echo "load after: $(uptime | sed 's/.*load average: //')"
