#!/bin/sh
# make bench: runs every tests/bench/bench_*.sh and bench_*.lua in turn.
# Benchmarks print their figures; tests/bench/RESULTS.md records them with
# the command and the machine.  Large inputs are generated under
# tests/bench/data/ (git-ignored) on first use.
BIN=${BIN:-./recpipe}
export BIN
mkdir -p tests/bench/data tests/bench/out
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem/{print $2}') GiB"
rc=0
for b in ${BENCH:-tests/bench/bench_*.sh tests/bench/bench_*.lua}; do
  [ -f "$b" ] || continue
  echo "== $b"
  case $b in
    *.sh) sh "$b" || rc=1 ;;
    *.lua) "$BIN" run "$b" || rc=1 ;;
  esac
done
exit $rc
