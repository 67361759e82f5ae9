#!/bin/sh
# The CSV files the pipelines write are RFC 4180: evaluate's results with
# model names holding a comma and double quotes, read back by rp.io's C
# reader (fields intact) and by recpipe.csv (every record has 5 fields).
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-./recpipe}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
tmp=$(mktemp -d /tmp/recpipe-csv.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$BIN" run --quiet examples/generate.lua out="$tmp/shop" users=300 items=100 events=6000 \
  >/dev/null 2>&1 || { echo "FAIL: generate"; exit 1; }
cat >"$tmp/ev.yaml" <<EOT
pipeline: evaluate
data:
  path: $tmp/shop/events.csv.gz
  read: {user: user_id, item: item_id, time: timestamp, event: event}
models:
  - {name: "a,b", type: popularity}
  - {name: 'say "hi", twice: ""', type: random, seed: 1}
eval: {k: 5, bootstrap: 50, curve_k: 5, metrics: [ndcg, recall]}
report: ""
results: $tmp/results.csv
EOT
"$BIN" run --quiet "$tmp/ev.yaml" >"$tmp/out" 2>"$tmp/err" || { fail "evaluate: $(tail -5 "$tmp/err")"; }
cat >"$tmp/check.lua" <<'EOT'
local rp = require "recpipe"
local csv = require "recpipe.csv"
local path = ...
local f = assert(io.open(path, "rb"))
local rows = csv.parse(f:read("a"))
f:close()
assert(#rows == 5, "records: " .. #rows)
for i, r in ipairs(rows) do assert(#r == 5, ("record %d has %d fields"):format(i, #r)) end
assert(table.concat(rows[1], "|") == "model|metric|value|lo|hi", table.concat(rows[1], "|"))
local ev = rp.io.read_events(path, { user = "model", item = "metric", value = "value" })
local seen = {}
for _, id in ipairs(ev.users:ids()) do seen[id] = true end
assert(seen["a,b"] and seen['say "hi", twice: ""'], table.concat(ev.users:ids(), " / "))
assert(#ev == 4)
for i = 1, #ev do
  local r = ev:row(i)
  assert(r.value >= 0 and r.value <= 1, r.value)
end
print("ok")
EOT
"$BIN" run --quiet "$tmp/check.lua" "$tmp/results.csv" >"$tmp/chk" 2>&1 || fail "read back: $(cat "$tmp/chk"; cat "$tmp/results.csv")"

[ $fails -eq 0 ] && echo "csv_out: ok"
[ $fails -eq 0 ]
