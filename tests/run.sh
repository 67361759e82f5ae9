#!/bin/sh
# Runs the test layers and ends with one summary line; exit 1 on any failure.
#   unit: Check executables $BUILD/tests/test_*  (C cores, no Lua)
#   lua:  tests/lua/test_*.lua run by the binary
#   e2e:  tests/e2e/*.sh (whole pipelines), given $BIN
# Exit status 77 from a test means "skipped" (e.g. ../shared data absent).
BIN=${BIN:-./recpipe}
BUILD=${BUILD:-build}
LAYERS=${LAYERS:-"unit lua e2e"}
export BIN BUILD
pass=0; fail=0; skip=0; failed=""
log=$(mktemp)
run() { # name, command...
  name=$1; shift
  start=$(date +%s)
  timeout 1800 "$@" >"$log" 2>&1
  rc=$?
  t=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1)); echo "ok    $name (${t}s)"
  elif [ $rc -eq 77 ]; then
    skip=$((skip + 1)); echo "skip  $name: $(grep -m1 SKIP "$log" | sed 's/^SKIP [^:]*: //')"
  else
    fail=$((fail + 1)); failed="$failed $name"
    echo "FAIL  $name (exit $rc)"; sed 's/^/      /' "$log" | tail -n 60
  fi
}
for layer in $LAYERS; do
  case $layer in
    unit) for t in "$BUILD"/tests/test_*; do
            [ -x "$t" ] || continue
            case $t in *.d) continue ;; esac
            run "unit/$(basename "$t")" env CK_FORK=no "$t"
          done ;;
    lua)  for t in tests/lua/test_*.lua; do
            [ -f "$t" ] || continue
            run "lua/$(basename "$t")" "$BIN" run --quiet "$t"
          done ;;
    e2e)  for t in tests/e2e/*.sh; do
            [ -f "$t" ] || continue
            run "e2e/$(basename "$t")" sh "$t"
          done ;;
  esac
done
rm -f "$log"
echo "tests: $pass passed, $fail failed, $skip skipped${failed:+ (failed:$failed)}"
[ $fail -eq 0 ]
