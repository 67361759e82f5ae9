#!/bin/sh
# make fuzz: runs each libFuzzer harness for FUZZ_SECONDS (ASan + UBSan,
# built by clang in $BUILD = build-fuzz/).
#   usage: FUZZ_SECONDS=N BUILD=build-fuzz sh tests/fuzz/run.sh NAME...
# Each harness fuzzes a scratch corpus ($BUILD/fuzz/corpus/NAME, kept between
# runs) seeded from tests/fuzz/corpus/NAME and the regression inputs of
# tests/fuzz/regress/NAME (those listed in tests/fuzz/xfail are left out:
# they crash by design until their fix lands).  libFuzzer runs in fork mode
# and keeps going after a crash, so one known bug does not hide the others;
# every crash, leak, timeout or out-of-memory input is saved under
# $BUILD/fuzz/artifacts/NAME/ and makes this script exit 1.
#
# Memory: -rss_limit_mb=2048 for the process, -malloc_limit_mb=512 for any
# single allocation; the harnesses themselves fail an input whose cores
# allocate more than its size justifies (tests/fuzz/fuzz.h).
BUILD=${BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
here=$(dirname "$0")
# LLVM's OpenMP keeps its threads' descriptors until exit (lsan.supp)
LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
found=0
for h in "$@"; do
  bin=$BUILD/fuzz/fuzz_$h
  [ -x "$bin" ] || { echo "fuzz: $bin not built (make fuzz builds it)"; exit 1; }
  corpus=$BUILD/fuzz/corpus/$h
  art=$BUILD/fuzz/artifacts/$h
  mkdir -p "$corpus" "$art"
  if [ -d "$here/regress/$h" ]; then
    for f in "$here/regress/$h"/*; do
      [ -f "$f" ] || continue
      grep -q "^regress/$h/$(basename "$f")\([[:space:]]\|$\)" "$here/xfail" 2>/dev/null && continue
      cp "$f" "$corpus/"
    done
  fi
  case $h in
    read|yaml) maxlen=16384 ;;
    *) maxlen=8192 ;;
  esac
  dict=""
  [ -f "$here/$h.dict" ] && dict="-dict=$here/$h.dict"
  before=$(ls "$art" | wc -l)
  echo "== fuzz $h: $FUZZ_SECONDS s"
  # shellcheck disable=SC2086 # $dict is one word or none
  "$bin" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
    -max_total_time="$FUZZ_SECONDS" -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=512 \
    -max_len=$maxlen $dict -artifact_prefix="$art/" -print_final_stats=1 \
    "$corpus" "$here/corpus/$h" >"$BUILD/fuzz/$h.log" 2>&1
  grep -E '^#[0-9]+: cov|DONE|INFO: fuzzed|stat::' "$BUILD/fuzz/$h.log" | tail -n 3
  after=$(ls "$art" | wc -l)
  if [ "$after" -gt "$before" ]; then
    echo "fuzz $h: $((after - before)) new failing input(s) in $art/ (log: $BUILD/fuzz/$h.log)"
    found=1
  fi
done
[ $found -eq 0 ] && echo "fuzz: no new failing inputs"
exit $found
