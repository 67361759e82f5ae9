-- rp.metrics from Lua: evaluate against a naive pure-Lua implementation of
-- every metric on random data (both the Lua-recommender path and, through
-- rp.baseline when built, the C path), curves, bootstrap, compare, report
-- methods and bad arguments.
local rp = require "recpipe"
local T = require "recpipe.test"

local dir = T.tmpdir()

-- a seeded LCG so the data is the same on every run
local function lcg(seed)
  local s = seed
  return function(m)
    s = (s * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    return (s >> 33) % m
  end
end

local function random_log(path, nu, ni, n, seed)
  local rnd = lcg(seed)
  local lines = { "user,item,value" }
  for _ = 1, n do
    -- skewed items so popularity matters
    local it = math.min(rnd(ni), rnd(ni))
    lines[#lines + 1] = ("u%d,i%d,%d"):format(rnd(nu), it, 1 + rnd(5))
  end
  T.write(path, table.concat(lines, "\n") .. "\n")
  return rp.io.read_events(path, { value = "value" })
end

local ev = random_log(dir .. "/r.csv", 120, 60, 2500, 11)
local tr, te = rp.split.random(ev, { test_fraction = 0.25, seed = 5 })
local train, test = tr:to_matrix(), te:to_matrix()
local NI = #ev.items

-- A Lua recommender ranking items by a per-user pseudo-random score, with
-- ties (scores rounded to 3 levels; ties broken by item id).
local RandRec = {}
RandRec.__index = RandRec
function RandRec:recommend_all(o)
  local out, sc = {}, {}
  for _, u in ipairs(o.users) do
    local rnd = lcg(#u * 131 + (u:byte(-1) or 0) * 7 + (u:byte(-2) or 0))
    local seen = {}
    if o.exclude then
      local items = o.exclude:row(u)
      for _, it in ipairs(items or {}) do seen[it] = true end
    end
    local cand = {}
    for i = 1, NI do
      local id = ev.items:id(i)
      if not seen[id] then cand[#cand + 1] = { id = id, s = rnd(3) } end
    end
    table.sort(cand, function(a, b) if a.s ~= b.s then return a.s > b.s end return a.id < b.id end)
    local l, s = {}, {}
    for j = 1, math.min(o.k, #cand) do l[j], s[j] = cand[j].id, cand[j].s end
    out[u], sc[u] = l, s
  end
  return out, sc
end

local naive_metrics = dofile("tests/lua/naive_metrics.lua")
local function naive(lists, k, threshold)
  return naive_metrics(lists, k, train, test, threshold)
end

local rec = setmetatable({ name = "rand" }, RandRec)

T.case("evaluate (Lua recommender) equals the naive implementation", function()
  for _, k in ipairs { 1, 5, 10, 70 } do -- 70 > catalogue
    local lists = rec:recommend_all { users = ev.users:ids(), k = k, exclude = train }
    local want = naive(lists, k)
    local r = rp.metrics.evaluate(rec, train, test, { k = k, metrics = "all" })
    T.eq(r.users, want.users, "users")
    for _, m in ipairs { "precision", "recall", "precision_pooled", "map", "ndcg", "hit_rate",
                         "mrr", "auc", "coverage", "gini", "novelty" } do
      T.near(r[m], want[m], 1e-9, m .. "@" .. k)
    end
    T.eq(r.rmse, nil, "rmse needs predict")
  end
end)

T.case("threshold restricts relevant items", function()
  local lists = rec:recommend_all { users = ev.users:ids(), k = 10, exclude = train }
  local want = naive(lists, 10, 3)
  local r = rp.metrics.evaluate(rec, train, test, { k = 10, threshold = 3 })
  T.eq(r.users, want.users)
  T.near(r.ndcg, want.ndcg, 1e-9)
  T.near(r.map, want.map, 1e-9)
end)

T.case("curve, bootstrap, per-user values", function()
  local r = rp.metrics.evaluate(rec, train, test, { k = 10, curve = true, bootstrap = 300,
    per_user = true, metrics = { "ndcg", "precision", "coverage" } })
  T.eq(#r.curve.ndcg, 10)
  T.near(r.curve.ndcg[10], r.ndcg, 1e-12)
  T.near(r.curve.coverage[10], r.coverage, 1e-12)
  local r5 = rp.metrics.evaluate(rec, train, test, { k = 5 })
  T.near(r.curve.ndcg[5], r5.ndcg, 1e-12, "metric@5 of the k=10 curve")
  T.near(r.curve.precision[5], r5.precision, 1e-12)
  T.near(r.curve.coverage[5], r5.coverage, 1e-12)
  T.ok(r.ci.ndcg[1] <= r.ndcg and r.ndcg <= r.ci.ndcg[2])
  T.eq(r.ci.coverage, nil, "no interval for coverage")
  T.eq(r.per_user.rows, r.users)
  T.eq(r.per_user.cols, 2)
  local vals = r:values("ndcg")
  local ids = r:user_ids()
  T.eq(#ids, r.users)
  local s = 0
  for i, u in ipairs(ids) do
    s = s + vals[u]
    T.near(r.per_user:get(i, 1), vals[u], 1e-6)
  end
  T.near(s / #ids, r.ndcg, 1e-9)
  local h = r:histogram("ndcg", 10)
  local c = 0
  for _, x in ipairs(h) do c = c + x end
  T.eq(c, r.users)
  -- the same seed gives the same intervals
  local r2 = rp.metrics.evaluate(rec, train, test, { k = 10, bootstrap = 300,
    metrics = { "ndcg" } })
  T.eq(r2.ci.ndcg[1], r.ci.ndcg[1])
  T.ok(tostring(r):find("ndcg@10", 1, true))
end)

T.case("compare: an oracle beats a random ranking", function()
  local oracle = { name = "oracle" }
  function oracle:recommend_all(o)
    local out = {}
    for _, u in ipairs(o.users) do
      local items = test:row(u)
      local l = {}
      for j = 1, math.min(o.k, #(items or {})) do l[j] = items[j] end
      out[u] = l
    end
    return out
  end
  local a = rp.metrics.evaluate(oracle, train, test, { k = 10 })
  local b = rp.metrics.evaluate(rec, train, test, { k = 10 })
  T.near(a.ndcg, 1, 1e-12, "the oracle is perfect")
  T.near(a.precision_pooled, 1, 1e-12)
  local d = rp.metrics.compare(a, b, { bootstrap = 500 })
  T.ok(d.ndcg.diff > 0.5 and d.ndcg.lo > 0, "clear win")
  T.ok(d.ndcg.p < 0.01)
  T.eq(d.ndcg.users, a.users)
  T.eq(d.ndcg.wins + d.ndcg.losses + d.ndcg.ties, a.users)
  T.eq(d.coverage, nil)
  T.ok(tostring(d):find("oracle vs rand", 1, true))
  -- a subset of users: compare on the common ones
  local ids = a:user_ids()
  local half = {}
  for i = 1, #ids, 2 do half[#half + 1] = ids[i] end
  local c = rp.metrics.evaluate(rec, train, test, { k = 10, users = half })
  T.eq(c.users, #half)
  local d2 = rp.metrics.compare(a, c, { metrics = { "ndcg" } })
  T.eq(d2.ndcg.users, #half)
  T.ok(rp.metrics.format({ a, b }):find("oracle", 1, true))
end)

T.case("ratings through a Lua predict", function()
  local p = { name = "three" }
  function p:recommend_all() return {} end
  function p:predict() return 3 end
  local r = rp.metrics.evaluate(p, train, test, { metrics = { "rmse", "mae", "ndcg" } })
  local se, ae, n = 0, 0, 0
  for u = 1, #ev.users do
    local _, vals = test:row(ev.users:id(u))
    for _, v in ipairs(vals or {}) do se, ae, n = se + (v - 3) ^ 2, ae + math.abs(v - 3), n + 1 end
  end
  T.near(r.rmse, math.sqrt(se / n), 1e-9)
  T.near(r.mae, ae / n, 1e-9)
  T.eq(r.ndcg, 0)
end)

T.case("bad arguments", function()
  T.errors(function() rp.metrics.evaluate(rec, train, test, { k = 0 }) end,
    "bad argument #4 to 'evaluate' (field 'k' must be an integer in 1..1048576, got 0)")
  T.errors(function() rp.metrics.evaluate(rec, train, test, { metrics = { "ndgc" } }) end,
    "unknown metric 'ndgc'")
  T.errors(function() rp.metrics.evaluate(rec, train, test, { K = 10 }) end, "unknown option 'K'")
  T.errors(function() rp.metrics.evaluate({}, train, test) end, "a recommender")
  T.errors(function() rp.metrics.evaluate(rec, train, "x") end, "test must be a recpipe.Matrix")
  T.errors(function() rp.metrics.evaluate(rec, train, test, { metrics = { "rmse" } }) end,
    "predict")
  -- a test log read on other maps
  T.write(dir .. "/other.csv", "user,item\nu1,i1\n")
  local other = rp.io.read_events(dir .. "/other.csv"):to_matrix()
  T.errors(function() rp.metrics.evaluate(rec, train, other) end, "same id maps")
  T.errors(function() rp.metrics.compare({}, {}) end, "a report from rp.metrics.evaluate")
end)

T.done()
