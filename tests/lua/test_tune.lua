-- recpipe.tune and the evaluate/tune/backtest pipelines: search spaces,
-- search results against direct evaluations, result tables, the validation
-- split staying inside the training period, and each pipeline end to end on
-- a small log (outputs written, HTML standalone, tables sorted).
local rp = require "recpipe"
local tune = require "recpipe.tune"
local T = require "recpipe.test"

local dir = T.tmpdir()
local BIN = os.getenv("BIN") or "./recpipe"

T.case("grid and random spaces", function()
  local g = tune.grid { factors = { 16, 32 }, regularization = { 0.1, 1 }, alpha = 5 }
  T.eq(#g, 4)
  T.same(g[1], { factors = 16, regularization = 0.1, alpha = 5 })
  T.same(g[4], { factors = 32, regularization = 1, alpha = 5 })
  T.same(tune.param_names { zeta = 1, alpha = 1, factors = 1 }, { "factors", "alpha", "zeta" })
  T.errors(function() tune.grid { regularization = { min = 0.1, max = 1 } } end, "needs a list")
  local sp = { factors = { 16, 32, 64 }, regularization = { min = 0.001, max = 10, log = true },
               iterations = { min = 5, max = 20 }, values = "binary" }
  local a, b = tune.sample(sp, 50, 7), tune.sample(sp, 50, 7)
  T.same(a, b, "same seed, same trials")
  T.ok(tune.sample(sp, 5, 8)[1].regularization ~= a[1].regularization, "another seed")
  local lo, hi, seen = math.huge, 0, {}
  for _, p in ipairs(a) do
    T.ok(p.regularization >= 0.001 and p.regularization <= 10)
    lo, hi = math.min(lo, p.regularization), math.max(hi, p.regularization)
    T.eq(math.type(p.iterations), "integer")
    T.ok(p.iterations >= 5 and p.iterations <= 20)
    seen[p.factors] = true
    T.eq(p.values, "binary")
  end
  T.ok(lo < 0.01 and hi > 1, "log-uniform spans the decades")
  T.ok(seen[16] and seen[32] and seen[64])
  T.errors(function() tune.sample({ alpha = { min = 0, max = 1, log = true } }, 1, 1) end,
    "a log range needs min > 0")
end)

-- a small log with a time column: 200 users, 80 items, 60 days
local lines = { "user,item,value,time" }
local s = 11
local function rnd(m)
  s = (s * 1103515245 + 12345) % 2147483648
  return s % m
end
for _ = 1, 6000 do
  local u = rnd(200)
  -- two taste groups so neighbourhood models have something to find
  local it = (u % 2) * 40 + math.min(rnd(40), rnd(40))
  lines[#lines + 1] = ("u%d,i%d,%d,%d"):format(u, it, 1 + rnd(3), 1700000000 + rnd(60 * 86400))
end
local log = T.write(dir .. "/log.csv", table.concat(lines, "\n") .. "\n")

T.case("load, validation inside the training period, search", function()
  local cfg = { data = { path = log, read = { value = "value", time = "time" } },
                split = { method = "by_time", test_fraction = 0.2 } }
  local d = tune.load(cfg)
  T.eq(#d.train_ev + #d.test_ev + d.split.dropped, #d.ev)
  local fit_ev, val_ev = tune.split(d.train_ev, { method = "by_time", test_fraction = 0.25 })
  local _, fit_max = rp.split.span(fit_ev)
  local val_min, val_max = rp.split.span(val_ev)
  local test_min = rp.split.span(d.test_ev)
  T.ok(fit_max < val_min and val_max < test_min, "fit < validation < test in time")
  local fit = { train = fit_ev:to_matrix(), train_ev = fit_ev }
  local val = val_ev:to_matrix()
  local results, names = tune.search({ method = "grid", space = { k = { 5, 40 },
    similarity = { "cosine", "jaccard" } } }, { type = "item_knn" }, fit, val,
    { k = 10, metric = "ndcg", metrics = { "ndcg", "map" } })
  T.eq(#results, 4)
  T.same(names, { "k", "similarity" })
  for i = 2, #results do T.ok(results[i].score <= results[i - 1].score, "best first") end
  -- each score is what a direct evaluation of that configuration gives
  for _, r in ipairs(results) do
    local m = rp.baseline.item_knn(fit.train, { k = r.params.k, similarity = r.params.similarity })
    local rep = rp.metrics.evaluate(m, fit.train, val, { k = 10 })
    T.near(r.score, rep.ndcg, 1e-12)
    T.near(r.metrics.map, rep.map, 1e-12)
  end
  local csv = tune.csv(results, names, { "ndcg", "map" })
  local rows = {}
  for line in csv:gmatch("[^\n]+") do rows[#rows + 1] = line end
  T.eq(rows[1], "rank,k,similarity,ndcg,map,train_seconds,seconds")
  T.eq(#rows, 5)
  T.ok(rows[2]:find("^1,"))
  local md = tune.markdown(results, names, { "ndcg" })
  T.ok(md:find("| # | k | similarity | ndcg | seconds |", 1, true))
  T.errors(function() tune.build({ type = "svd" }, fit.train) end, "model type must be one of")
  T.errors(function() tune.build({ type = "item_knn", factors = 3 }, fit.train) end,
    "unknown option 'factors'")
  T.errors(function() tune.load { data = {} } end, "data.path")
  T.errors(function() tune.split(d.ev, { method = "kfold" }) end, "split.method must be one of")
end)

local function run(args)
  local cmd = ("%s run --quiet %s > %s/out.txt 2>&1"):format(BIN, args, dir)
  local ok = os.execute(cmd)
  local f = io.open(dir .. "/out.txt")
  local out = f and f:read("a") or ""
  if f then f:close() end
  return ok, out
end

local function readfile(p)
  local f = io.open(p, "rb")
  if not f then return nil end
  local t = f:read("a")
  f:close()
  return t
end

local READ = "data.path=" .. log .. " data.read.value=value data.read.time=time"

T.case("pipelines/evaluate.lua end to end", function()
  local ok, out = run(("pipelines/evaluate.lua %s eval.bootstrap=50 "
    .. "eval.curve_k=20 report=%s/eval.html results=%s/eval.csv"):format(READ, dir, dir))
  T.ok(ok, out)
  T.ok(out:find("als", 1, true) and out:find("item_knn", 1, true) and out:find("popularity", 1, true),
    "the three models side by side")
  T.ok(out:find("als vs popularity", 1, true), "paired comparison printed")
  local html = readfile(dir .. "/eval.html")
  T.ok(html and html:find("<!DOCTYPE html>", 1, true))
  T.ok(select(2, html:gsub("<svg", "")) == 8)
  local csv = readfile(dir .. "/eval.csv")
  T.ok(csv:find("^model,metric,value,lo,hi\n"))
  T.ok(csv:find("\nals,ndcg,", 1, true))
end)

T.case("pipelines/tune.lua end to end", function()
  local ok, out = run(("pipelines/tune.lua %s model.type=als "
    .. "model.iterations=5 search.space.factors=[8,16] search.space.regularization=[0.01,1] "
    .. "search.space.alpha=[1] eval.bootstrap=50 out=%s/tune"):format(READ, dir))
  T.ok(ok, out)
  local csv = readfile(dir .. "/tune/results.csv")
  T.ok(csv, "results.csv written")
  local scores, header = {}, nil
  for line in csv:gmatch("[^\n]+") do
    if not header then
      header = line
    else
      local cols = {}
      for c in line:gmatch("[^,]+") do cols[#cols + 1] = c end
      scores[#scores + 1] = tonumber(cols[5]) -- rank, factors, regularization, alpha, ndcg
    end
  end
  T.ok(header:find("^rank,factors,regularization,alpha,ndcg"), header)
  T.eq(#scores, 4)
  for i = 2, #scores do T.ok(scores[i] <= scores[i - 1], "sorted by the metric") end
  T.ok(readfile(dir .. "/tune/results.md"):find("| # | factors |", 1, true))
  local html = readfile(dir .. "/tune/report.html")
  T.ok(html:find("Best configuration, retrained and evaluated once on test", 1, true))
  T.ok(out:find("best on validation", 1, true))
end)

T.case("pipelines/backtest.lua end to end", function()
  local ok, out = run(("pipelines/backtest.lua %s backtest.train_days=20 "
    .. "backtest.cadences=[7,14] model.type=item_knn model.k=20 report=%s/bt.html"):format(READ, dir))
  T.ok(ok, out)
  T.ok(out:find("day since retrain | every 7 days | every 14 days", 1, true), out)
  T.ok(out:find("\n13 | - | ", 1, true), "bi-weekly runs to day 13, weekly stops at 6")
  -- each day's mean with its 95% interval around it
  local n = 0
  for v, lo, hi in out:gmatch("\n%d+ | (%d%.%d%d%d%d) %[(%-?%d%.%d%d%d%d), (%d%.%d%d%d%d)%] %(%d+ users%)") do
    n = n + 1
    T.ok(tonumber(lo) <= tonumber(v) and tonumber(v) <= tonumber(hi), v .. " in [" .. lo .. ", " .. hi .. "]")
  end
  T.ok(n >= 7, "days with intervals: " .. n)
  local html = readfile(dir .. "/bt.html")
  T.ok(html and html:find("retrain every 14 days", 1, true))
  T.ok(html:find('<line class="ci"', 1, true), "interval bars in the chart")
  T.ok(html:find('text%-anchor="end">0</text>'), "the y axis starts at 0")
  T.ok(html:find("<td>item_knn</td><td>k = 20,", 1, true), "the model's options")
end)

T.done()
