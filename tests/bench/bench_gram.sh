#!/bin/sh
# Gram benchmark (RESULTS.md section "Y^T Y"): rp_als_gram (double, the
# same bits on every CPU) against OpenBLAS ssyrk in the same process, with
# the kernel OpenBLAS picks on this CPU and with its SkylakeX kernel.
#   sh tests/bench/bench_gram.sh [rows] [factors] [runs]
BUILD=${BUILD:-build}
LOCK=${RECPIPE_BENCH_LOCK-flock /tmp/recpipe-bench.lock}
echo "load: $(uptime | sed 's/.*load average: //')"
$LOCK "$BUILD/bench/bench_gram" "$@" || exit 1
grep -q avx512f /proc/cpuinfo &&
  OPENBLAS_CORETYPE=SkylakeX $LOCK "$BUILD/bench/bench_gram" "$@" | grep -v "^Y:.*$" | sed 's/^/SkylakeX kernel: /'
echo "load: $(uptime | sed 's/.*load average: //')"
