#!/bin/sh
# ALS benchmark (RESULTS.md section "als"): seconds per iteration for each
# solver and thread count beside implicit 0.7's figures on this machine
# kind, GFLOP/s against OpenBLAS sgemm measured in the same run, time
# against interactions (1M, 5M, 10M, 20M events), training memory against
# its formula, recommend latency and batch throughput.
#
#   sh tests/bench/bench_als.sh            everything (about 10 minutes)
#   ALS_BENCH_QUICK=1 sh tests/bench/...   f=64 CG and serving only
#
# The log: $RECPIPE_BENCH_DATA (a file, or a directory holding
# synth10m.csv), else tests/bench/data/synth10m.csv, generated with
# ../shared/tools/synth.py (seeded: the reference log of issue #3).  The 1M
# and 5M logs are its first lines; the 20M log is it twice, the second copy
# with other user ids.  Every timed run takes /tmp/recpipe-bench.lock (the
# machine is shared); the load average is printed beside the figures.
BUILD=${BUILD:-build}
BIN=${BIN:-./recpipe}
ITERS=${ALS_BENCH_ITERS:-5}
LOCK=${RECPIPE_BENCH_LOCK-flock /tmp/recpipe-bench.lock}
D=tests/bench/data
mkdir -p "$D"
if [ -n "$RECPIPE_BENCH_DATA" ] && [ -f "$RECPIPE_BENCH_DATA" ]; then
  LOG=$RECPIPE_BENCH_DATA
elif [ -n "$RECPIPE_BENCH_DATA" ] && [ -f "$RECPIPE_BENCH_DATA/synth10m.csv" ]; then
  LOG=$RECPIPE_BENCH_DATA/synth10m.csv
else
  LOG=$D/synth10m.csv
  if [ ! -s "$LOG" ]; then
    /usr/bin/python3 ../shared/tools/synth.py "$LOG.part.csv" 1e7 >&2 && mv "$LOG.part.csv" "$LOG" ||
      { echo "bench_als: cannot make $LOG" >&2; exit 1; }
  fi
fi
[ -x "$BUILD/bench/bench_als" ] || { echo "bench_als: build $BUILD/bench/bench_als first (make bench)" >&2; exit 1; }

val() { sed -n "s/^$1 //p" "$2"; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "machine: $(nproc) cores, load $(uptime | sed 's/.*load average: //')"
echo "log: $LOG"
$LOCK "$BUILD/bench/bench_als" sgemm > "$out/sgemm" || exit 1
SG1=$(val sgemm_gflops_1 "$out/sgemm")
SG2=$(val sgemm_gflops_2 "$out/sgemm")
echo "OpenBLAS sgemm 2048^3: $SG1 GFLOP/s (1 thread), $SG2 GFLOP/s (2 threads)"

# config: factors solver threads implicit-anchor-seconds
if [ -n "$ALS_BENCH_QUICK" ]; then
  CONFIGS="64:cg:2:2.71"
else
  CONFIGS="64:cg:2:2.71 64:cg:1:5.95 64:cholesky:2:7.28 64:cholesky:1:10.2 128:cg:2:3.09 128:cholesky:2:12.7"
fi
echo
echo "| ALS, 10M log, reg 0.01 | recpipe s/iter (median of $ITERS) | implicit 0.7 | speed-up | GFLOP/s | of sgemm | load |"
echo "|---|---|---|---|---|---|---|"
for c in $CONFIGS; do
  f=${c%%:*}; r=${c#*:}; s=${r%%:*}; r=${r#*:}; t=${r%%:*}; ref=${r#*:}
  $LOCK "$BUILD/bench/bench_als" train "$LOG" "$f" "$s" "$t" "$ITERS" > "$out/t" || exit 1
  load=$(uptime | sed 's/.*load average: //; s/,.*//')
  sec=$(val seconds_per_iteration "$out/t"); gf=$(val gflops "$out/t")
  sg=$SG2; [ "$t" = 1 ] && sg=$SG1
  awk -v f="$f" -v s="$s" -v t="$t" -v sec="$sec" -v ref="$ref" -v gf="$gf" -v sg="$sg" -v l="$load" \
    'BEGIN { printf "| f=%s %s, %s thread%s | %.3f | %s | %.1fx | %.1f | %.0f%% | %s |\n",
             f, s, t, t == 1 ? "" : "s", sec, ref, ref / sec, gf, 100 * gf / sg, l }'
  if [ "$c" = "64:cg:2:2.71" ]; then cp "$out/t" "$out/mem"; fi
done

echo
echo "training memory, f=64 CG, 2 threads (MiB): matrix (users x items, held by the caller) $(val matrix_mb "$out/mem");"
echo "  formula transpose + 2 factor matrices + per-thread scratch + Gram buffers = $(val formula_mb "$out/mem");"
echo "  measured: core allocations during training $(val core_peak_mb "$out/mem"), peak RSS growth during training $(val rss_growth_mb "$out/mem") (RSS before $(val rss_before_mb "$out/mem"))"

if [ -z "$ALS_BENCH_QUICK" ]; then
  for n in 1 5; do
    [ -s "$D/als${n}m.csv" ] || head -n $((n * 1000000 + 1)) "$LOG" > "$D/als${n}m.csv"
  done
  [ -s "$D/als20m.csv" ] || { cat "$LOG"; tail -n +2 "$LOG" | awk -F, -v OFS=, '{ $1 = $1 + 1000000; print }'; } > "$D/als20m.csv"
  echo
  echo "| f=64 CG, 2 threads | events | non-zeros | s/iter | s per 10M non-zeros |"
  echo "|---|---|---|---|---|"
  for n in 1 5 10 20; do
    file=$D/als${n}m.csv; [ "$n" = 10 ] && file=$LOG
    $LOCK "$BUILD/bench/bench_als" train "$file" 64 cg 2 "$ITERS" > "$out/t" || exit 1
    awk -v n="$n" -v nnz="$(val nnz "$out/t")" -v sec="$(val seconds_per_iteration "$out/t")" \
      'BEGIN { printf "| %sM log | %dM | %d | %.3f | %.3f |\n", n, n, nnz, sec, sec / nnz * 1e7 }'
  done
fi

echo
$LOCK "$BUILD/bench/bench_als" serve "$LOG" 64 5000 20000 > "$out/s" || exit 1
echo "recommend one user (C core), k=10, seen excluded, 50,000 items, f=64: median $(val recommend_median_us "$out/s") us, p99 $(val recommend_p99_us "$out/s") us (implicit: 654 / 950)"
echo "recommend a batch of 20,000 users (C core, 2 threads): $(val recommend_all_us_per_user "$out/s") us per user wall, $(val recommend_all_cpu_us_per_user "$out/s") us CPU (implicit: 120)"
if [ -x "$BIN" ]; then
  $LOCK "$BIN" run --quiet tests/bench/als_serve.lua "$LOG" 5000 20000 > "$out/l" || exit 1
  echo "through Lua: recommend median $(val lua_recommend_median_us "$out/l") us, p99 $(val lua_recommend_p99_us "$out/l") us; recommend_all $(val lua_recommend_all_us_per_user "$out/l") us per user"
fi
echo "load after: $(uptime | sed 's/.*load average: //')"
