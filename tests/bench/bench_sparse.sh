#!/bin/sh
# Sparse matrix benchmark (RESULTS.md section "sparse").
#   sh tests/bench/bench_sparse.sh          C core timings + scipy reference
#   sh tests/bench/bench_sparse.sh --data   only make sure the log exists; print its path
# The log is 5 million events of synth.py's format: the first 5M rows of
# $RECPIPE_BENCH_DATA/synth10m.csv when that exists, else generated with
# ../shared/tools/synth.py (seeded, so the same bytes every time).
# On the shared machine run it as `flock /tmp/recpipe-bench.lock make bench`.
BUILD=${BUILD:-build}
# (two names: bench_read.sh writes synth5m.csv with synth.py, so the head of
# synth10m must not take that name, or which log ran would depend on order)
mkdir -p tests/bench/data tests/bench/out
if [ -n "$RECPIPE_BENCH_DATA" ] && [ -f "$RECPIPE_BENCH_DATA/synth10m.csv" ]; then
  DATA=tests/bench/data/synth10m-head5m.csv
else
  DATA=tests/bench/data/synth5m.csv
fi
if [ ! -s "$DATA" ]; then
  if [ -n "$RECPIPE_BENCH_DATA" ] && [ -f "$RECPIPE_BENCH_DATA/synth10m.csv" ]; then
    head -n 5000001 "$RECPIPE_BENCH_DATA/synth10m.csv" > "$DATA.part" && mv "$DATA.part" "$DATA"
  else
    /usr/bin/python3 ../shared/tools/synth.py "$DATA.part.csv" 5e6 >&2 &&
      mv "$DATA.part.csv" "$DATA"
  fi || { echo "bench_sparse: cannot make $DATA" >&2; exit 1; }
fi
if [ "$1" = "--data" ]; then echo "$DATA"; exit 0; fi
echo "load: $(uptime | sed 's/.*load average: //')"
"$BUILD/bench/bench_sparse" "$DATA" 5 || exit 1
if /usr/bin/python3 -c "import scipy, pandas" 2>/dev/null; then
  /usr/bin/python3 tests/bench/bench_sparse_ref.py "$DATA" 5
else
  echo "scipy reference skipped: /usr/bin/python3 has no scipy/pandas"
fi
