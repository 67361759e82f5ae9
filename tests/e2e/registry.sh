#!/bin/sh
# The registry across real processes: one writer recording 300 runs (each a
# few transactions) while three readers list runs and render the dashboard
# without pause; no reader sees an error or a count going backwards, the
# writer never fails on a lock, and the file ends intact with every run.
BIN=${BIN:-./recpipe}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
tmp=$(mktemp -d /tmp/recpipe-reg.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

cat >"$tmp/writer.lua" <<'EOF2'
local rp = require "recpipe"
local path, n = ...
local reg = rp.registry.open(path)
for i = 1, tonumber(n) do
  local run = reg:begin { pipeline = "writer", config = { i = i } }
  run:metric("ndcg@10", i / 1000, { lo = i / 1000 - 0.01, hi = i / 1000 + 0.01 })
  run:log("info", "run %d", i)
  run:measure("psi", i / 300, { threshold = 0.5 })
  run:finish()
end
io.open(path .. ".done", "w"):close()
EOF2
cat >"$tmp/reader.lua" <<'EOF2'
local rp = require "recpipe"
local path = ...
local last, reads = 0, 0
while true do
  local done = io.open(path .. ".done") ~= nil
  local reg = rp.registry.open(path, { readonly = true })
  local n = #reg:runs { status = "ok" }
  assert(n >= last, ("runs went from %d to %d"):format(last, n))
  last, reads = n, reads + 1
  local html = reg:dashboard()
  assert(html:find("</html>", 1, true))
  reg:close()
  if done then break end
end
print(("reads %d, last count %d"):format(reads, last))
EOF2
# the writer creates the file first, so readers can open it read-only
"$BIN" run -q "$tmp/writer.lua" "$tmp/reg.db" 1 || fail "first run"
rm -f "$tmp/reg.db.done"
"$BIN" run -q "$tmp/writer.lua" "$tmp/reg.db" 300 2>"$tmp/w.err" &
w=$!
pids=""
for i in 1 2 3; do
  "$BIN" run -q "$tmp/reader.lua" "$tmp/reg.db" >"$tmp/r$i.out" 2>"$tmp/r$i.err" &
  pids="$pids $!"
done
wait $w || fail "writer failed: $(cat "$tmp/w.err")"
for p in $pids; do wait $p || fail "a reader failed: $(cat "$tmp"/r*.err)"; done
for i in 1 2 3; do grep -q "last count 301" "$tmp/r$i.out" || fail "reader $i: $(cat "$tmp/r$i.out")"; done
cat >"$tmp/check.lua" <<'EOF2'
local rp = require "recpipe"
local reg = rp.registry.open((...))
assert(reg:integrity { full = true })
assert(#reg:runs() == 301, #reg:runs())
assert(#reg:list("metrics") == 301 and #reg:list("logs") == 301 and #reg:measures() == 301)
EOF2
"$BIN" run -q "$tmp/check.lua" "$tmp/reg.db" || fail "final state"
[ $fails -eq 0 ] || exit 1
echo "registry: ok ($(cat "$tmp/r1.out"))"
