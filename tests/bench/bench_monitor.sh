#!/bin/sh
# Monitor benchmark (RESULTS.md section "monitor"):
#  1. speed of the C core on 10M events (bench_monitor.c: windows, lists,
#     serving logs; inputs generated in memory, seeded);
#  2. the calibration of pipelines/drift.lua's default thresholds: weekly
#     checks on 16-week logs with a taste shift in week 10, ten seeds, at
#     the size of the full simulation (5,000 users, 2,000 items, 200,000
#     events) and at the size of the e2e test (3,000, 1,200, 100,000).
#   sh tests/bench/bench_monitor.sh [runs]
# On the shared machine run it as `flock /tmp/recpipe-bench.lock make bench`.
BUILD=${BUILD:-build}
BIN=${BIN:-./recpipe}
echo "load: $(uptime | sed 's/.*load average: //')"
OMP_NUM_THREADS=1 "$BUILD/bench/bench_monitor" "${1:-5}" || exit 1
"$BIN" run --quiet tests/bench/drift_weeks.lua || exit 1
"$BIN" run --quiet tests/bench/drift_weeks.lua users=3000 items=1200 events=100000 | sed -n '/seeds (/,$p'
