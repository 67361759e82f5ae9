-- simulate.lua: sixteen weeks of a shop's operations under `recpipe schedule`,
-- with the clock override instead of waiting.
--
--   recpipe run examples/operations/simulate.lua                  (full: out/operations/sim)
--   recpipe run examples/operations/simulate.lua scale=small out=/tmp/sim   (make test)
--
-- 1. A 16-week log from rp.gen.events with a taste shift at the start of
--    week 10 (half the users move to other taste clusters, half the items of
--    each cluster swap popularity).
-- 2. A schedule: the gated retrain (pipelines/retrain.lua) every week from
--    week 4, and the drift check (pipelines/drift.lua) every week from week 5:
--    the last week against the week before and against the training data.
-- 3. Week by week, `recpipe schedule --once --now=<end of week w>`.  In week 13
--    the retrain learns from a log whose items were shuffled: a deliberately
--    broken candidate, which the gate (judging on the true log) must refuse
--    while the live model keeps serving.
-- 4. Checks (an error when one fails): no drift alert in the five checks before
--    the shift, an alert in the first check after it; every retrain promoted
--    but the broken one, refused; the live version loads and answers; the
--    dashboard of the registry shows all of it.
local rp = require "recpipe"

local cfg = rp.config.args({ scale = "full", out = "out/operations/sim", seed = 7, shift = true }, ...)
local small = cfg.scale == "small"
local out = cfg.out
local exe = rp.paths.exe
local function sh(cmd)
  local ok = os.execute(cmd)
  return ok
end
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
assert(sh("rm -rf " .. q(out) .. " && mkdir -p " .. q(out)), "cannot make " .. out)

local DAY, WEEK = 86400, 7 * 86400
local START = 1704672000 -- 2024-01-08, a Monday
local SHIFT_WEEK, BROKEN_WEEK, WEEKS = 10, 13, 16
local size = small and { users = 1500, items = 500, events = 90000, factors = 16, iterations = 8 }
  or { users = 6000, items = 2000, events = 480000, factors = 64, iterations = 15 }

-- 1. the log, and the same log with items shuffled
local t0 = rp.clock()
local log, broken = out .. "/events.csv", out .. "/shuffled.csv"
local gen = rp.gen.events { path = log, truth_path = out .. "/truth.csv", users = size.users,
  items = size.items, events = size.events, days = WEEKS * 7, start = START, seed = cfg.seed,
  drift = 0.2, new_users = 0.1, new_items = 0.05,
  shift = cfg.shift and { at = START + (SHIFT_WEEK - 1) * WEEK, users = 0.5, items = 0.5,
                          tilt = 1 } or nil }
local here = (arg and arg[0] or ""):match("^(.*/)") or "./"
dofile(here .. "shuffle_items.lua")(log, broken, cfg.seed)
print(("log: %d events, %d users, %d items over %d weeks, taste shift at the start of week %d "
  .. "(%.1f s)"):format(gen.events, gen.users, gen.items, WEEKS, SHIFT_WEEK, rp.clock() - t0))

-- 2. the schedules (the broken one differs only in the retrain's log)
local READ = "{user: user_id, item: item_id, time: timestamp, event: event, "
  .. "weights: {purchase: 5, addtocart: 3, view: 1}}"
local has_drift = io.open(rp.paths.pipelines .. "/drift.lua") ~= nil
local function schedule(path, data)
  local f = assert(io.open(path, "w"))
  f:write(([[
registry: registry.db
jobs:
  - name: retrain
    pipeline: retrain
    every: 7d
    start: %d
    timeout: 30m
    retries: 1
    backoff: 1h
    config:
      model: shop
      data: {path: %s, read: %s}
      gate_data: {path: %s, read: %s}
      als: {factors: %d, iterations: %d, regularization: 0.05, alpha: 1.0, seed: 42}
      gate: {window_days: 7, tolerance: 0.0, bootstrap: 500}
]]):format(START + 4 * WEEK, data, READ, log, READ, size.factors, size.iterations))
  if has_drift then
    f:write(([[
  - name: drift
    pipeline: drift
    every: 7d
    start: %d
    timeout: 30m
    retries: 1
    config:
      model: shop
      data: {path: %s, read: %s}
]]):format(START + 5 * WEEK, log, READ))
  end
  f:close()
end
schedule(out .. "/schedule.yaml", log)
schedule(out .. "/schedule_broken.yaml", broken)

-- 3. sixteen weeks
local weeks = {}
for w = 1, WEEKS do
  local now = START + w * WEEK + 3600
  local file = w == BROKEN_WEEK and "schedule_broken.yaml" or "schedule.yaml"
  local t1 = rp.clock()
  local ok = sh(("%s --quiet schedule --once --now=%d %s > %s 2>&1"):format(q(exe), now,
    q(out .. "/" .. file), q(out .. "/week" .. w .. ".log")))
  weeks[w] = { now = now, exit = ok, seconds = rp.clock() - t1 }
end

-- 4. what the registry says
local reg = rp.registry.open(out .. "/registry.db")
assert(reg:integrity { full = true })
local failures = {}
local function check(cond, fmt, ...)
  if not cond then failures[#failures + 1] = fmt:format(...) end
end
local function week_of(t) return math.floor((t - START - 3600) / WEEK) end

for _, r in ipairs(reg:runs()) do
  check(r.status == "ok", "run %d (%s) %s: %s", r.id, r.job or r.pipeline, r.status,
    tostring(r.message))
end
local decisions = {}
for _, p in ipairs(reg:promotions("shop")) do decisions[week_of(p.t)] = p end
for w = 4, WEEKS do
  local p = decisions[w]
  check(p ~= nil, "week %d: no promotion decision", w)
  if p then
    if w == BROKEN_WEEK then
      check(p.action == "refuse", "week %d: the broken candidate was not refused (%s)", w, p.action)
    else
      check(p.action ~= "refuse", "week %d: refused: %s", w, tostring(p.reason))
    end
  end
end
local live, path = reg:live("shop")
check(live ~= nil, "no live model")
if live then
  local m = rp.als.load(path)
  check(#m:recommend(m.users:id(1), { k = 10 }) == 10, "the live model does not answer")
  local refused = decisions[BROKEN_WEEK]
  check(not refused or refused.version ~= live, "the refused version is live")
end

local alerts_by_week = {}
for _, a in ipairs(reg:alerts()) do
  local w = week_of(a.t)
  alerts_by_week[w] = (alerts_by_week[w] or 0) + 1
end
if has_drift then
  for w = SHIFT_WEEK - 5, SHIFT_WEEK - 1 do
    check(not alerts_by_week[w], "week %d (before the shift): %d drift alert(s)", w,
      alerts_by_week[w] or 0)
  end
  check(alerts_by_week[SHIFT_WEEK], "week %d (the shift): no drift alert", SHIFT_WEEK)
end

-- the week-by-week table
print(("%-5s %-10s %-9s %-8s %-12s %-28s %s"):format("week", "date", "retrain", "version",
  "live after", "ndcg@10 candidate - live", "drift alerts"))
for w = 1, WEEKS do
  local p = decisions[w]
  local diff = p and p.diff and ("%+.4f [%+.4f, %+.4f]"):format(p.diff, p.lo, p.hi) or ""
  local live_after = p and (p.action == "refuse" and p.previous or p.version) or nil
  print(("%-5d %-10s %-9s %-8s %-12s %-28s %s"):format(w, os.date("!%Y-%m-%d", weeks[w].now),
    p and p.action or "-", p and p.version or "-", live_after or "-", diff,
    has_drift and w >= 5 and tostring(alerts_by_week[w] or 0) or "-"))
end

local html = reg:dashboard { title = "Shop operations: 16 simulated weeks" }
local f = assert(io.open(out .. "/dashboard.html", "w"))
f:write(html)
f:close()
print(("dashboard: %s (%d bytes); registry: %d runs, %d model versions, %d alerts; %.1f s in all")
  :format(out .. "/dashboard.html", #html, #reg:runs(), #reg:models("shop"), #reg:alerts(),
    rp.clock() - t0))
if not has_drift then print("(pipelines/drift.lua is absent: drift checks skipped)") end
if #failures > 0 then
  error("simulation: " .. #failures .. " check(s) failed:\n  " .. table.concat(failures, "\n  "))
end
print("simulation: every check holds")
