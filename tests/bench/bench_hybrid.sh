#!/bin/sh
# Hybrid benchmark (RESULTS.md section "hybrid"): content scoring and
# projection for one user over 50,000 items, fitting the projection for
# 50,000 items x 1,000 features (the figures), a blend batch.
#   sh tests/bench/bench_hybrid.sh [runs]
# Inputs are generated in memory (seeded), nothing is read or written.
# On the shared machine run it as `flock /tmp/recpipe-bench.lock make bench`.
BUILD=${BUILD:-build}
echo "load: $(uptime | sed 's/.*load average: //')"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=1 "$BUILD/bench/bench_hybrid" "${1:-5}"
