#!/bin/sh
# Runs the test layers and ends with one summary line; exit 1 on any failure.
#   unit: Check executables $BUILD/tests/test_*  (C cores, no Lua)
#   lua:  tests/lua/test_*.lua run by the binary
#   e2e:  tests/e2e/*.sh (whole programs), given $BIN
#   fuzz: $BUILD/fuzz/replay_<h> on tests/fuzz/corpus/<h> and regress/<h>
# Exit status 77 from a test means "skipped" (e.g. ../shared data absent).
#
# Test files run in parallel, JOBS at a time (default: the number of cores,
# at least 2).  Each one's output goes to its own log under
# $BUILD/test-logs/; results are printed in the order above as they become
# known, whatever order the tests finish in.  Tests must therefore not share
# paths or ports (mktemp, ephemeral ports); the example data are generated
# before this runs (make test).
BIN=${BIN:-./recpipe}
BUILD=${BUILD:-build}
LAYERS=${LAYERS:-"unit lua e2e fuzz"}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
[ "$JOBS" -ge 2 ] 2>/dev/null || JOBS=2
export BIN BUILD
if [ "${TSAN:-0}" = 1 ]; then
  # OpenBLAS and libc are not instrumented: their accesses are not races of ours
  TSAN_OPTIONS="ignore_noninstrumented_modules=1 ${TSAN_OPTIONS:-}"
  export TSAN_OPTIONS
fi
logs=$BUILD/test-logs
rm -rf "$logs"
mkdir -p "$logs" || exit 1
work=$(mktemp -d /tmp/recpipe-run.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# ---- the list: one line per test, "name<TAB>command" ------------------------
list=$work/list
: >"$list"
add() { printf '%s\t%s\n' "$1" "$2" >>"$list"; }
for layer in $LAYERS; do
  case $layer in
    unit) for t in "$BUILD"/tests/test_*; do
            [ -x "$t" ] || continue
            case $t in *.d) continue ;; esac
            add "unit/$(basename "$t")" "env CK_FORK=no $t"
          done ;;
    lua)  for t in tests/lua/test_*.lua; do
            [ -f "$t" ] || continue
            add "lua/$(basename "$t")" "$BIN run --quiet $t"
          done ;;
    e2e)  for t in tests/e2e/*.sh; do
            [ -f "$t" ] || continue
            add "e2e/$(basename "$t")" "sh $t"
          done ;;
    fuzz) for t in "$BUILD"/fuzz/replay_*; do
            [ -x "$t" ] || continue
            h=${t##*/replay_}
            dirs=""
            for d in tests/fuzz/corpus/$h tests/fuzz/regress/$h; do
              [ -d "$d" ] && dirs="$dirs $d"
            done
            [ -n "$dirs" ] && add "fuzz/$h" "$t -x tests/fuzz/xfail$dirs"
          done ;;
  esac
done
n=$(wc -l <"$list")

# ---- run: a FIFO holds JOBS tokens; a test takes one and gives it back ------
# (each test writes $work/<i>.rc last, which the printer below waits for)
mkfifo "$work/tokens" || exit 1
exec 3<>"$work/tokens"
k=0
while [ $k -lt "$JOBS" ]; do echo >&3; k=$((k + 1)); done
(
  i=0
  while IFS="$(printf '\t')" read -r name cmd; do
    i=$((i + 1))
    read -r _ <&3
    log=$logs/$(echo "$name" | tr / _).log
    (
      start=$(date +%s)
      # shellcheck disable=SC2086 # cmd is a word list by construction
      timeout 1800 $cmd >"$log" 2>&1 </dev/null 3>&-
      rc=$?
      echo "$(($(date +%s) - start))" >"$work/$i.t"
      echo $rc >"$work/$i.rc.tmp" && mv "$work/$i.rc.tmp" "$work/$i.rc"
      echo >&3
    ) &
  done <"$list"
  wait
  : >"$work/done"
) &
runner=$!

# ---- print in list order as results arrive --------------------------------------
pass=0; fail=0; skip=0; failed=""
i=0
while IFS="$(printf '\t')" read -r name cmd; do
  i=$((i + 1))
  while [ ! -f "$work/$i.rc" ]; do
    # the runner ended without this result (killed): count it as failed
    [ -f "$work/done" ] && [ ! -f "$work/$i.rc" ] && { echo 1 >"$work/$i.rc"; echo 0 >"$work/$i.t"; }
    sleep 0.1
  done
  rc=$(cat "$work/$i.rc"); t=$(cat "$work/$i.t")
  log=$logs/$(echo "$name" | tr / _).log
  if [ "$rc" -eq 0 ]; then
    pass=$((pass + 1)); echo "ok    $name (${t}s)"
  elif [ "$rc" -eq 77 ]; then
    skip=$((skip + 1)); echo "skip  $name: $(grep -m1 SKIP "$log" | sed 's/^SKIP [^:]*: //')"
  else
    fail=$((fail + 1)); failed="$failed $name"
    echo "FAIL  $name (exit $rc; full output: $log)"; sed 's/^/      /' "$log" | tail -n 60
  fi
done <"$list"
wait $runner
exec 3>&-
[ "$n" -gt 0 ] || echo "tests: no test found for layers: $LAYERS"
echo "tests: $pass passed, $fail failed, $skip skipped${failed:+ (failed:$failed)}"
[ $fail -eq 0 ]
