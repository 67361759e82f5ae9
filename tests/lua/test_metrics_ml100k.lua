-- Opt-in (skipped without ../shared/data): MovieLens 100K ua split through
-- rp.metrics.evaluate.  Popularity and item-kNN are deterministic, so their
-- figures are pinned; ALS at implicit's benchmark settings must land within
-- 2% of implicit's own NDCG/MAP/precision (which checks that the metric
-- definitions agree with implicit's ranking_metrics_at_k).
local rp = require "recpipe"
local T = require "recpipe.test"

local base = "../shared/data/movielens-100k/"
local f = io.open(base .. "ua.base")
if not f then T.skip("../shared/data/movielens-100k absent") end
f:close()

local ro = { sep = "\t", header = false, user = 1, item = 2, value = 3, time = 4 }
local ev = rp.io.read_events(base .. "ua.base", ro)
local to = { sep = "\t", header = false, user = 1, item = 2, value = 3, time = 4,
             users = ev.users, items = ev.items }
local tev = rp.io.read_events(base .. "ua.test", to)
local train, test = ev:to_matrix(), tev:to_matrix()

T.case("baselines on ua: pinned figures", function()
  local pop = rp.metrics.evaluate(rp.baseline.popularity(ev), train, test, { k = 10 })
  T.eq(pop.users, 943)
  T.near(pop.ndcg, 0.1331, 5e-4)
  T.near(pop.precision_pooled, 0.1215, 5e-4)
  local knn = rp.metrics.evaluate(rp.baseline.item_knn(train, { k = 50 }), train, test, { k = 10 })
  T.near(knn.ndcg, 0.2264, 5e-4)
  T.near(knn.map, 0.1138, 5e-4)
end)

T.case("ALS at implicit's settings matches implicit's metrics within 2%", function()
  if not rp.als then T.skip("als module not built") end
  local m = rp.als.train(train, { factors = 64, regularization = 0.01, alpha = 1.0,
    iterations = 15, seed = 42 })
  local r = rp.metrics.evaluate(m, train, test, { k = 10 })
  T.ok(r.ndcg >= 0.2557 * 0.98, ("ndcg %.4f vs implicit 0.2557"):format(r.ndcg))
  T.ok(r.map >= 0.1299 * 0.98, ("map %.4f vs implicit 0.1299"):format(r.map))
  T.ok(r.precision_pooled >= 0.2299 * 0.98, ("precision %.4f vs 0.2299"):format(r.precision_pooled))
end)

T.done()
