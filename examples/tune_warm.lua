-- Warm users: which blend of ALS, item-kNN, trending and popularity serves
-- users with a history best, chosen by rp.hybrid.tune_chain on the last
-- weeks of the training data (cases = "time": later windows validate what
-- was trained before them), then checked once on the test period.
--   recpipe run examples/tune_warm.lua [events.csv.gz]      (make examples first)
local rp = require "recpipe"

local path = arg[1] or "examples/shop/events.csv.gz"
local ev = rp.io.read_events(path, { user = "user_id", item = "item_id", time = "timestamp",
  event = "event", weights = { purchase = 5, addtocart = 3, view = 1 } })
local train_ev, test_ev = rp.split.by_time(ev, { test_fraction = 0.2 })
local function binary(e) return e:to_matrix():binarize() end

-- the parts, built from whatever training events tune_chain passes (memo:
-- one table per training set, so the matrix is built once for all parts)
local parts = {
  als = function(tr, _, memo)
    memo.m = memo.m or binary(tr)
    return rp.als.train(memo.m, { factors = 32, regularization = 1, iterations = 15, seed = 42 })
  end,
  item_knn = function(tr, _, memo)
    memo.m = memo.m or binary(tr)
    return rp.hybrid.content(memo.m, rp.hybrid.interaction_features(memo.m), { binary = true })
  end,
  trending = function(tr, case)
    return rp.hybrid.trending(tr, { half_life_days = 14, at = case and case.test })
  end,
  popularity = function(tr, _, memo)
    memo.m = memo.m or binary(tr)
    return rp.baseline.popularity(memo.m)
  end,
}
local _, report = rp.hybrid.tune_chain(parts, train_ev, "time", { folds = 2, test_fraction = 0.2 })
for _, line in ipairs(rp.hybrid.tuning_summary(report)) do print(line) end

-- the test period: every part trained on all of train, the tuned rules on top
local train, test = binary(train_ev), binary(test_ev)
local memo, recs = {}, {}
for name, build in pairs(parts) do recs[name] = build(train_ev, { test = test_ev }, memo) end
local chain = rp.hybrid.tuned_chain(report, recs, { train = train })
local reports, names = {}, { "popularity", "trending", "item_knn", "als" }
for _, name in ipairs(names) do
  reports[name] = rp.metrics.evaluate(recs[name], train, test, { k = 10, bootstrap = 1000,
    name = name })
end
reports.chain = rp.metrics.evaluate(chain, train, test, { k = 10, bootstrap = 1000,
  name = "tuned chain" })
print("")
print(("test period: %d users"):format(reports.chain.users))
print("")
print("| strategy | ndcg@10 [95% CI] | tuned chain − strategy, paired [95% CI] |")
print("|---|---|---|")
for _, name in ipairs(names) do
  local r, d = reports[name], rp.metrics.compare(reports.chain, reports[name],
    { metrics = { "ndcg" }, bootstrap = 1000 }).ndcg
  print(("| %s | %.4f [%.4f, %.4f] | %+.4f [%+.4f, %+.4f] |"):format(name, r.ndcg, r.ci.ndcg[1],
    r.ci.ndcg[2], d.diff, d.lo, d.hi))
end
local c = reports.chain
print(("| tuned chain | %.4f [%.4f, %.4f] | |"):format(c.ndcg, c.ci.ndcg[1], c.ci.ndcg[2]))
