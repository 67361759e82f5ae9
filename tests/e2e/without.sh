#!/bin/sh
# A module really can be left out (issue 11): `make WITHOUT=monitor` builds
# the binary without modules/monitor (its core, binding and include path);
# rp.monitor is then absent, and the rest (read, split, train, evaluate,
# tune) works as in the full build.  The build under test's variables
# (SAN, TSAN, MARCH) are passed on, so each variant proves it for itself.
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-./recpipe}
vars=${RP_MAKEVARS:-SAN=$(case $BIN in *build-san*) echo 1 ;; *) echo 0 ;; esac)}
tmp=$(mktemp -d /tmp/recpipe-without.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

make --no-print-directory -j2 WITHOUT=monitor $vars >"$tmp/make.log" 2>&1 ||
  fail "make WITHOUT=monitor: $(tail -20 "$tmp/make.log")"
bin=$(sed -n 's/^  LD \(.*recpipe\)$/\1/p' "$tmp/make.log" | tail -1)
[ -n "$bin" ] || bin=$(ls -d build*-without-monitor*/recpipe 2>/dev/null | head -1)
[ -x "$bin" ] || fail "no binary (make said: $(tail -3 "$tmp/make.log"))"
case $bin in *without-monitor*) ;; *) fail "the binary $bin is not the WITHOUT build's" ;; esac
if command -v nm >/dev/null; then
  nm --defined-only "$bin" | grep -q "luaopen_recpipe_monitor\|rp_monitor_" &&
    fail "monitor's code is linked into $bin"
  nm --defined-only "$BIN" | grep -q "luaopen_recpipe_monitor" || fail "the full build lacks monitor"
fi

awk 'BEGIN { print "user,item,time"; s = 11
  for (n = 0; n < 2000; n++) { s = (s * 1103515245 + 12345) % 2147483648
    printf "u%d,i%d,%d\n", s % 80, (s / 80) % 40, 1700000000 + (s % 3456000) } }' >"$tmp/log.csv"
cat >"$tmp/check.lua" <<LUA
local rp = require "recpipe"
assert(rp.monitor == nil, "rp.monitor is present")
assert(not pcall(require, "recpipe.monitor"), "recpipe.monitor can be required")
local ev = rp.io.read_events("$tmp/log.csv", { time = "time" })
local tr, te = rp.split.by_time(ev, { test_fraction = 0.2 })
local train, test = tr:to_matrix(), te:to_matrix()
local m = rp.als.train(train, { factors = 8, iterations = 3 })
local r = rp.metrics.evaluate(m, train, test, { metrics = { "ndcg", "recall" } })
assert(r.users > 0 and r.ndcg >= 0 and r.ndcg <= 1, "evaluate")
local pop = rp.baseline.popularity(tr)
assert(#pop:recommend(ev.users:id(1), { k = 5 }) == 5, "popularity")
print(("ok %d users ndcg %.4f"):format(r.users, r.ndcg))
LUA
out=$("$bin" run "$tmp/check.lua" 2>&1) || fail "script without monitor: $out"
case $out in "ok "*) ;; *) fail "script printed: $out" ;; esac
# the full build's answer is the same (leaving a module out changes nothing else)
full=$("$BIN" run "$tmp/check.lua" 2>&1)
case $full in *"rp.monitor is present"*) ;; *) fail "the full build has no rp.monitor: $full" ;; esac
sed -i 's/^assert(rp.monitor == nil.*$//; s/^assert(not pcall(require.*$//' "$tmp/check.lua"
full=$("$BIN" run "$tmp/check.lua" 2>&1)
[ "$full" = "$out" ] || fail "without monitor '$out', full build '$full'"
# a pipeline needing the module fails
"$bin" run pipelines/drift.lua data.path="$tmp/log.csv" >/dev/null 2>&1 && fail "drift ran without rp.monitor"
echo "without.sh: ok ($bin)"
