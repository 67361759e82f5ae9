#!/bin/sh
# recpipe serve with realtime = true (issue 13): events POSTed for a known
# user are folded into their factors (partial_fit_users of their training
# row plus the weighted events) and their items get the session boost
# (realtime_session_weight per event), so the next answer reflects them;
# the lists equal what the Lua API gives after the same partial fit and
# model:set_session (with weight 0: the partial fit alone).  Without
# realtime the answer stays the frozen model's.
. "$(dirname "$0")/lib/serve.sh"
make_model
cat >"$tmp/expect_rt.lua" <<'LUA'
local rp = require "recpipe"
local dir = ...
local m = rp.als.load(dir .. "/model.rpa")
local train = rp.sparse.load(dir .. "/train.rpm")
local w = { purchase = 5, addtocart = 3, view = 1 }
-- u42 buys three of the items another user is shown first, and views one
-- twice: events of another taste, so the list must move
local before = (m:recommend("u42", { k = 5, exclude = train }))
local other
for u = 1, 400 do
  local l = m:recommend("u" .. u, { k = 3, exclude = train })
  if l and l[1] ~= before[1] and l[2] ~= before[1] and l[3] ~= before[1] then other = l break end
end
local events = { { other[1], "purchase" }, { other[2], "purchase" }, { other[3], "purchase" },
  { other[1], "view" }, { other[1], "view" }, { "no-such-item", "view" } }
local trip = {}
local items, vals = train:row("u42")
for a, it in ipairs(items) do trip[#trip + 1] = { "u42", it, vals[a] } end
for _, e in ipairs(events) do
  if m.items:index(e[1]) then trip[#trip + 1] = { "u42", e[1], w[e[2]] } end
end
local row = rp.sparse.from_triplets(trip, { items = m.items })
local f = assert(io.open(dir .. "/expect_rt.txt", "w"))
f:write("before ", table.concat(before, ","), "\n")
m:partial_fit_users({ "u42" }, row)
f:write("refit ", table.concat((m:recommend("u42", { k = 5, exclude = train })), ","), "\n")
-- the session: every event's item (unknown ones ignored), 0.4 per event
-- (realtime_session_weight's default)
local seen = {}
for _, e in ipairs(events) do seen[#seen + 1] = e[1] end
seen[#seen + 1] = "no-such-item"
m:set_session("u42", seen, 0.4)
f:write("after ", table.concat((m:recommend("u42", { k = 5, exclude = train })), ","), "\n")
local js = {}
for a = 1, 5 do
  js[#js + 1] = ('{"user":"u42","item":"%s","event":"%s"}'):format(events[a][1], events[a][2])
end
js[#js + 1] = '{"user":"nobody","item":"i7","event":"view"}'
f:write("events1 {\"events\":[", table.concat(js, ",", 1, 3), "]}\n")
f:write("events2 {\"events\":[", table.concat(js, ",", 4, 6), ',{"user":"u42","item":"no-such-item","event":"view"}]}\n')
f:close()
LUA
"$BIN" run --quiet "$tmp/expect_rt.lua" "$tmp" || { echo "FAIL: the Lua reference"; exit 1; }
rt_of() { sed -n "s/^$1 //p" "$tmp/expect_rt.txt"; }
[ "$(rt_of before)" != "$(rt_of refit)" ] || fail "the events do not change the Lua answer: a weak test"
[ "$(rt_of refit)" != "$(rt_of after)" ] || fail "the session does not change the Lua answer: a weak test"
events=$(rt_of events1)
events2=$(rt_of events2)

# on: the default session weight; refit: realtime_session_weight 0 (the
# partial fit alone); off: no realtime
for mode in on refit off; do
  case $mode in
    on) rt="realtime: true
realtime_weights: purchase=5,addtocart=3,view=1" ;;
    refit) rt="realtime: true
realtime_weights: purchase=5,addtocart=3,view=1
realtime_session_weight: 0" ;;
    off) rt="" ;;
  esac
  cat >"$tmp/serve.yaml" <<YAML
model: $tmp/model.rpa
seen: $tmp/train.rpm
workers: 2
log_dir: $tmp/logs-$mode
$rt
YAML
  start "$tmp/serve.yaml" || { fail "server ($mode) did not start: $(cat "$tmp/server.log")"; finish; }
  expect 200 GET "/v1/recommend?user=u42&k=5"
  [ "$(items)" = "$(rt_of before)" ] || fail "$mode, before: $(items), Lua: $(rt_of before)"
  expect 202 POST /v1/events "$events"
  expect 202 POST /v1/events "$events2"
  expect 200 GET "/v1/recommend?user=u42&k=5"
  has '"cached":false'
  if [ $mode = on ]; then
    [ "$(items)" = "$(rt_of after)" ] || fail "realtime: $(items), Lua after the partial fit and the session: $(rt_of after)"
  elif [ $mode = refit ]; then
    [ "$(items)" = "$(rt_of refit)" ] || fail "realtime, weight 0: $(items), Lua after the partial fit: $(rt_of refit)"
  else
    [ "$(items)" = "$(rt_of before)" ] || fail "frozen: $(items), Lua: $(rt_of before)"
  fi
  stop TERM
done
finish
