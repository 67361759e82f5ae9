-- rp.registry from Lua: runs (a <close> run ended by an error is failed),
-- JSON, model objects registered and loaded back, the default gate on a
-- real log refusing a candidate trained on shuffled items while the live
-- model keeps serving, custom and no gates, rollback, measures and alerts,
-- listings, and bad arguments.
local rp = require "recpipe"
local T = require "recpipe.test"

local dir = T.tmpdir()
local n = 0
local function fresh()
  n = n + 1
  return rp.registry.open(("%s/r%d/registry.db"):format(dir, n))
end

T.case("runs: begin, record, finish; an error closes the run as failed", function()
  local reg = fresh()
  local run = reg:begin { pipeline = "p", config = { k = 10, list = { 1, 2 } }, seed = 7 }
  run:metric("ndcg@10", 0.25, { lo = 0.24, hi = 0.26 })
  run:log("info", "hello %d", 42)
  T.eq(run:measure("psi", 0.3, { threshold = 0.2 }), true)
  T.eq(run:measure("psi", 0.1, { threshold = 0.2 }), false)
  T.eq(run:measure("ctr", 0.01, { threshold = 0.02, direction = "below", model = "shop",
                                  version = 1, label = "cf", from = "2024-01-01",
                                  to = 1704153600 }), true)
  run:alert("psi", "drift", 0.3, 0.2)
  run:finish()
  local ok, err = pcall(function()
    local r2 <close> = reg:begin { pipeline = "doomed" }
    error("boom")
  end)
  T.ok(not ok and tostring(err):find("boom"))
  local runs = reg:runs()
  T.eq(#runs, 2)
  T.eq(runs[1].status, "failed")
  T.ok(runs[1].message:find("boom", 1, true))
  T.eq(runs[2].status, "ok")
  T.eq(runs[2].config, '{"k":10,"list":[1,2]}')
  T.eq(runs[2].seed, 7)
  local m = reg:list("metrics", { run = run })[1]
  T.same({ m.name, m.value, m.lo, m.hi }, { "ndcg@10", 0.25, 0.24, 0.26 })
  T.eq(reg:list("logs", { run = run.id })[1].message, "hello 42")
  local ctr = reg:measures { name = "ctr" }[1]
  T.same({ ctr.crossed, ctr.direction, ctr.version, ctr.label, ctr.window_from, ctr.window_to },
    { 1, "below", 1, "cf", 1704067200.0, 1704153600.0 })
  T.eq(#reg:measures { name = "psi" }, 2)
  T.eq(reg:alerts()[1].message, "drift")
  -- the run of a measure or alert may be nil, an id or a run
  T.eq(reg:record_measure(nil, "x", 1), false)
  reg:alert(run.id, "x", "m")
  T.eq(#reg:alerts(), 2)
end)

T.case("json", function()
  local J = rp.registry.json
  T.eq(J { b = 1, a = "x\n\"y\"", c = { 1, 2.5, true }, _private = 1, f = print },
    '{"a":"x\\n\\"y\\"","b":1,"c":[1,2.5,true]}')
  T.eq(J(0 / 0), "null")
  T.eq(J {}, "{}")
  T.eq(J "\1", '"\\u0001"')
end)

T.case("bad arguments name the problem", function()
  local reg = fresh()
  T.errors(function() reg:begin { pipeline = "p", sede = 1 } end, "unknown field 'sede'")
  T.errors(function() reg:record_measure(nil, "x", 1, { treshold = 1 }) end,
    "unknown option 'treshold'")
  T.errors(function() reg:record_measure(nil, "x", 1, { direction = "up" }) end, "'above'")
  T.errors(function() reg:record_measure(999, "x", 1) end, "no run 999")
  T.errors(function() reg:list("tables") end, "known: runs")
  T.errors(function() reg:promote("shop", 1, { gait = 1 }) end, "unknown option 'gait'")
  T.errors(function() reg:register("a b", "x") end, "only letters")
  T.errors(function() reg:live("../x") end, "not starting with '.'")
  T.errors(function() rp.registry.open(dir) end, "not a regular file")
  T.errors(function() rp.registry.gate_options { metric = "gini" } end, "per-user metric")
  T.errors(function() rp.registry.gate_options { k = 0 } end, "k must be")
  local g = rp.registry.gate_options {}
  T.same({ g.metric, g.k, g.tolerance, g.window_days }, { "ndcg", 10, 0.0, 7.0 })
end)

-- a small shop: 60 days, the last 7 the gate's window
local log = dir .. "/shop.csv"
rp.gen.events { path = log, users = 400, items = 150, events = 30000, days = 60, seed = 3,
                start = "2024-01-01", drift = 0 }
local READ = { user = "user_id", item = "item_id", time = "timestamp", event = "event",
               weights = { purchase = 5, addtocart = 3, view = 1 } }

-- the same log with items shuffled: a deliberately broken training set
local shuffled = dir .. "/shuffled.csv"
dofile("examples/operations/shuffle_items.lua")(log, shuffled, 12345)

T.case("register, promote through the default gate, refuse a broken candidate, rollback", function()
  local reg = fresh()
  local ev = rp.io.read_events(log, READ)
  local _, tmax = ev:time_range()
  local cut = tmax - 7 * 86400
  local train = ev:where { to = cut }:to_matrix()
  local als = { factors = 16, iterations = 8, regularization = 0.05, seed = 1 }
  local good = rp.als.train(train, als)
  local v1 = reg:register("shop", good, { options = als })
  T.eq(v1, 1)
  local ok, d = reg:promote("shop", v1)
  T.ok(ok)
  T.eq(d.action, "initial")
  local version, path = reg:live("shop")
  T.eq(version, 1)
  T.ok(path:find("/models/shop/v1.rpa$"))
  -- loaded back, the live model answers as the one registered
  local loaded = reg:load("shop")
  local a = good:recommend("u1", { k = 5 })
  local b = loaded:recommend("u1", { k = 5 })
  T.same(b, a)
  -- a second good model (another seed) passes the gate
  local good2 = rp.als.train(train, { factors = 16, iterations = 8, regularization = 0.05, seed = 2 })
  local v2 = reg:register("shop", good2)
  ok, d = reg:promote("shop", v2, { events = ev })
  T.ok(ok, d.reason)
  T.eq(d.action, "promote")
  T.eq(reg:live("shop"), 2)
  -- trained on shuffled items: worse by far, refused; v2 stays live
  local bev = rp.io.read_events(shuffled, READ)
  local broken = rp.als.train(bev:where { to = cut }:to_matrix(), als)
  local v3 = reg:register("shop", broken)
  ok, d = reg:promote("shop", v3, { events = ev, run = reg:begin { pipeline = "gate" } })
  T.eq(ok, false)
  T.eq(d.action, "refuse")
  T.ok(d.hi < 0, "the whole interval is below 0")
  T.ok(d.reason:find("refused: ndcg@10", 1, true), d.reason)
  T.eq(reg:live("shop"), 2)
  local p = reg:promotions("shop")[1]
  T.same({ p.action, p.version, p.previous, p.metric }, { "refuse", 3, 2, "ndcg@10" })
  T.near(p.diff, d.diff, 1e-12)
  T.ok(p.candidate_report:find('"ndcg":', 1, true) and p.live_report:find('"ndcg":', 1, true))
  T.ok(p.run ~= nil)
  -- the live model still loads and answers
  T.eq(#reg:load("shop"):recommend("u1", { k = 5 }), 5)
  -- the same refusal through explicit matrices and a looser tolerance still refuses
  ok = reg:promote("shop", v3, { train = train, test = ev:where { from = cut }:to_matrix(),
                                 options = { tolerance = 0.001 } })
  T.eq(ok, false)
  -- a custom gate and no gate
  ok, d = reg:promote("shop", v3, { gate = function(c, l) return false, "not on Fridays" end })
  T.eq(ok, false)
  T.eq(d.reason, "not on Fridays")
  ok, d = reg:promote("shop", v3, { gate = false, reason = "manual override" })
  T.ok(ok)
  T.eq(reg:live("shop"), 3)
  T.eq(reg:rollback("shop", { reason = "it was broken" }), 2)
  T.eq(reg:live("shop"), 2)
  T.eq(reg:promotions("shop")[1].reason, "it was broken")
  local actions = {}
  for _, r in ipairs(reg:promotions("shop")) do table.insert(actions, 1, r.action) end
  T.eq(table.concat(actions, " "), "initial promote refuse refuse refuse promote rollback")
  -- model metrics of a report go to model_metrics
  local rep = rp.metrics.evaluate(good, train, ev:where { from = cut }:to_matrix(),
    { k = 10, metrics = { "ndcg" }, bootstrap = 100 })
  local v4 = reg:register("shop", good, { report = rep })
  local mm = reg:list("model_metrics", { name = "shop" })[1]
  T.eq(mm.version, v4)
  T.same({ mm.metric, mm.value, mm.lo, mm.hi }, { "ndcg", rep.ndcg, rep.ci.ndcg[1], rep.ci.ndcg[2] })
  -- the page shows it
  local html = reg:dashboard()
  T.ok(html:find('data-action="refuse"', 1, true))
  T.ok(html:find('class="live" data-name="shop" data-version="2"', 1, true))
end)

T.done()
