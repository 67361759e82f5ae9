-- Quality against implicit 0.7 on MovieLens 100K (ua.base / ua.test, the
-- figures of issue #3): NDCG@10 and MAP@10 within 2% of implicit's or
-- better.  Needs ../shared/data/movielens-100k (skipped when absent).
local rp = require "recpipe"
local T = require "recpipe.test"

local dir = "../shared/data/movielens-100k/" -- tests run from the repository root
local f = io.open(dir .. "ua.base", "r")
if not f then T.skip("MovieLens 100K not found under ../shared/data") end
f:close()

local function load(binary)
  local cols = { sep = "\t", header = false, user = 1, item = 2, time = 4 }
  if not binary then cols.value = 3 end
  local tr = rp.io.read_events(dir .. "ua.base", cols)
  cols.users, cols.items = tr.users, tr.items
  local te = rp.io.read_events(dir .. "ua.test", cols)
  return tr:to_matrix(), te:to_matrix()
end

local function check(name, report, want)
  for metric, anchor in pairs(want) do
    local got = report[metric]
    print(("%-28s %-16s recpipe %.4f  implicit %.4f  ratio %.3f"):format(name, metric, got,
      anchor, got / anchor))
    T.ok(got >= 0.98 * anchor, ("%s %s = %.4f, below 98%% of implicit's %.4f"):format(name,
      metric, got, anchor))
  end
end

local metrics = { "ndcg", "map", "precision_pooled" }

T.case("ratings as values, f=64, reg 0.01, alpha 1, 15 iterations (CG)", function()
  local train, test = load(false)
  local m = rp.als.train(train, { factors = 64, regularization = 0.01, alpha = 1.0,
    iterations = 15, seed = 42 })
  local r = rp.metrics.evaluate(m, train, test, { k = 10, metrics = metrics })
  check("values=rating f=64", r, { ndcg = 0.2557, map = 0.1299, precision_pooled = 0.2299 })
end)

T.case("same with the Cholesky solver", function()
  local train, test = load(false)
  local m = rp.als.train(train, { factors = 64, regularization = 0.01, alpha = 1.0,
    iterations = 15, seed = 42, solver = "cholesky" })
  local r = rp.metrics.evaluate(m, train, test, { k = 10, metrics = metrics })
  check("values=rating f=64 chol", r, { ndcg = 0.2557, map = 0.1299 })
end)

T.case("binary values, f=32, reg 1.0, alpha 1 (implicit's best of a small grid)", function()
  local train, test = load(true)
  local m = rp.als.train(train, { factors = 32, regularization = 1.0, alpha = 1.0,
    iterations = 15, seed = 42 })
  local r = rp.metrics.evaluate(m, train, test, { k = 10, metrics = metrics })
  check("binary f=32 reg=1", r, { ndcg = 0.2972, map = 0.1586 })
end)

T.done()
