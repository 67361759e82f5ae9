#!/bin/sh
# A scheduler killed with kill -9 at random moments (KILLS times; 6 here,
# 20 in make bench): a job that trains a small ALS model, registers it and
# promotes it, one slot a day.  After every kill: PRAGMA integrity_check is
# "ok", no slot has two successful runs, no run is left running once its
# processes are gone, and the live pointer names a file that loads.
BIN=${BIN:-./recpipe}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
KILLS=${KILLS:-6}
tmp=${KEEP:-$(mktemp -d /tmp/recpipe-kill.XXXXXX)}
[ -n "$KEEP" ] || trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$BIN" run -q - <<EOF2 || { echo "cannot make the log"; exit 1; }
local rp = require "recpipe"
rp.gen.events { path = "$tmp/log.csv", users = 200, items = 80, events = 6000, days = 30, seed = 5 }
EOF2
cat >"$tmp/job.lua" <<'EOF2'
local rp = require "recpipe"
local reg = rp.registry.open(os.getenv("RECPIPE_REGISTRY"))
local log = (arg[0]:gsub("job.lua$", "log.csv"))
local run <close> = reg:begin { pipeline = "train", inputs = { log } }
local ev = rp.io.read_events(log, { user = "user_id",
  item = "item_id", time = "timestamp", event = "event" })
os.execute("sleep 0.0" .. math.random(0, 9))
local m = rp.als.train(ev:to_matrix(), { factors = 8, iterations = 3, seed = 1 })
local v = reg:register("shop", m, { run = run })
os.execute("sleep 0.0" .. math.random(0, 9))
reg:promote("shop", v, { gate = false, run = run, reason = "kill loop" })
run:metric("version", v)
EOF2
printf 'jobs:\n  - {name: train, pipeline: job.lua, every: 1d, start: 2024-01-01, retries: 100, backoff: 1s}\n' >"$tmp/s.yaml"
cat >"$tmp/check.lua" <<'EOF2'
local rp = require "recpipe"
local reg = rp.registry.open((...))
assert(reg:integrity { full = true })
local ok_per_slot = {}
for _, r in ipairs(reg:runs()) do
  if r.status == "running" then
    local f = io.open("/proc/" .. tostring(r.pid) .. "/stat")
    error(("run %d still running (pid %s: %s)"):format(r.id, tostring(r.pid), f and f:read("l") or "gone"))
  end
  if r.status == "ok" then
    assert(not ok_per_slot[r.slot], ("slot %.0f recorded ok twice"):format(r.slot))
    ok_per_slot[r.slot] = true
  end
end
local v, path = reg:live("shop")
if v then
  local m = rp.als.load(path)
  assert(m.factors == 8, "live model does not load")
end
local n = 0
for _ in pairs(ok_per_slot) do n = n + 1 end
print(n, #reg:runs(), v or 0)
EOF2
day=86400; t0=1704067200; i=0; seed=$$
while [ $i -lt "$KILLS" ]; do
  i=$((i + 1))
  now=$((t0 + i * day + 3600))
  "$BIN" schedule --once --now=$now "$tmp/s.yaml" 2>/dev/null &
  p=$!
  seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
  sleep "0.$(( seed % 400 + 50 ))"
  kill -9 $p 2>/dev/null
  wait $p 2>/dev/null
  sleep 0.2 # the children die with the scheduler (parent-death signal)
  "$BIN" run -q "$tmp/check.lua" "$tmp/registry.db" >"$tmp/c.out" 2>&1 || fail "after kill $i: $(cat "$tmp/c.out")"
  # the slot left by the kill runs once on the next start
  "$BIN" schedule --once --now=$now "$tmp/s.yaml" 2>/dev/null || fail "resume after kill $i"
  "$BIN" run -q "$tmp/check.lua" "$tmp/registry.db" >"$tmp/c.out" 2>&1 || fail "after resume $i: $(cat "$tmp/c.out")"
  set -- $(cat "$tmp/c.out")
  [ "$1" = "$i" ] || fail "after $i slots, $1 ok runs"
done
[ $fails -eq 0 ] || exit 1
echo "killloop: ok ($KILLS kills; ok slots, runs, live version: $(cat "$tmp/c.out"))"
