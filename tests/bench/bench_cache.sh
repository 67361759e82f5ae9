#!/bin/sh
# Cache benchmark (RESULTS.md section "rp.cache"): the core's hit path, get
# and put throughput with 1 and 2 threads against a one-mutex reference
# LRU in the same file, eviction, prefix invalidation, bytes per entry.
#   sh tests/bench/bench_cache.sh [runs]
# Everything is generated in memory; nothing is read or written.
BUILD=${BUILD:-build}
echo "load: $(uptime | sed 's/.*load average: //')"
"$BUILD/bench/bench_cache" "${1:-5}"
