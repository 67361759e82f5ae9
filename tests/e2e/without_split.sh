#!/bin/sh
# A left-out module leaves its Lua extension out too (issue 11): `make
# WITHOUT=split` builds a binary without modules/split, so rp.split is
# absent and its extension (modules/split/split_ext.lua, which sits in the
# tree beside the binding) is neither loaded by `require "recpipe"` nor
# found by `require "recpipe.split_ext"`; the full build loads it.  Split
# is a leaf since the cold-start splits moved into it: the rest (read,
# matrices, ALS, hybrid) builds and runs without it.  The build under
# test's variables (SAN, TSAN, MARCH) are passed on.
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-./recpipe}
vars=${RP_MAKEVARS:-SAN=$(case $BIN in *build-san*) echo 1 ;; *) echo 0 ;; esac)}
tmp=$(mktemp -d /tmp/recpipe-without-split.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

make --no-print-directory -j2 WITHOUT=split $vars >"$tmp/make.log" 2>&1 ||
  fail "make WITHOUT=split: $(tail -20 "$tmp/make.log")"
bin=$(sed -n 's/^  LD \(.*recpipe\)$/\1/p' "$tmp/make.log" | tail -1)
[ -n "$bin" ] || bin=$(ls -d build*-without-split*/recpipe 2>/dev/null | head -1)
[ -x "$bin" ] || fail "no binary (make said: $(tail -3 "$tmp/make.log"))"
case $bin in *without-split*) ;; *) fail "the binary $bin is not the WITHOUT build's" ;; esac
if command -v nm >/dev/null; then
  nm --defined-only "$bin" | grep -q "luaopen_recpipe_split\|rp_split_" &&
    fail "split's code is linked into $bin"
fi

awk 'BEGIN { print "user,item,time"; s = 7
  for (n = 0; n < 1500; n++) { s = (s * 1103515245 + 12345) % 2147483648
    printf "u%d,i%d,%d\n", s % 60, (s / 60) % 30, 1700000000 + (s % 3456000) } }' >"$tmp/log.csv"
cat >"$tmp/check.lua" <<LUA
local rp = require "recpipe"
local without = ...
if without == "without" then
  assert(rp.split == nil, "rp.split is present")
  assert(package.loaded["recpipe.split_ext"] == nil, "split_ext was loaded")
  local ok, msg = pcall(require, "recpipe.split_ext")
  assert(not ok, "recpipe.split_ext can be required")
  assert(msg:find("module 'recpipe.split_ext' not found", 1, true), msg)
  assert(not msg:find("modules/split/", 1, true), "looked in modules/split: " .. msg)
else
  assert(type(rp.split.kfold) == "function" and type(rp.split.rolling) == "function",
    "the extension's functions")
  assert(package.loaded["recpipe.split_ext"], "split_ext not loaded")
end
-- the runtime's own Lua and the other modules' extensions are there
assert(type(require("recpipe.tune")) == "table" and rp.config.args, "runtime Lua")
assert(type(rp.hybrid.chain) == "function" and type(rp.metrics.compare) == "function",
  "other extensions")
local ev = rp.io.read_events("$tmp/log.csv", { time = "time" })
local m = rp.als.train(ev:to_matrix(), { factors = 4, iterations = 2 })
print(("ok %d events %d users"):format(#ev, m.nusers))
LUA
out=$("$bin" run "$tmp/check.lua" without 2>&1) || fail "without split: $out"
case $out in "ok "*) ;; *) fail "without split printed: $out" ;; esac
full=$("$BIN" run "$tmp/check.lua" full 2>&1) || fail "full build: $full"
[ "$full" = "$out" ] || fail "without split '$out', full build '$full'"
# a pipeline needing the module fails with the reason
"$bin" run pipelines/evaluate.lua data.path="$tmp/log.csv" >"$tmp/eval.out" 2>&1 &&
  fail "evaluate ran without rp.split"
grep -q "split" "$tmp/eval.out" || fail "evaluate without rp.split said: $(head -3 "$tmp/eval.out")"
echo "without_split.sh: ok ($bin)"
