-- examples/second_pipeline.lua: from the shop log to a trained, measured and
-- saved model, with a cold-start fallback.  Run from the repository root
-- after `make demo`:   recpipe run examples/second_pipeline.lua
local rp = require "recpipe"
local ev = rp.io.read_events("examples/shop/events.csv.gz", {
  user = "user_id", item = "item_id", time = "timestamp", event = "event",
  weights = { purchase = 5, addtocart = 3, view = 1 } })
local function matrix(events) return events:to_matrix { aggregate = "sum" } end

-- 1. Split by time: the last 20% of the events are the future the model is
--    judged on.  Both parts are weighted alike; only train is k-cored (the
--    test period is what happened: filtering it would flatter the model).
local train_ev, test_ev, s = rp.split.by_time(ev, { test_fraction = 0.2 })
print(("train %d events, test %d from %s (%d dropped: user or item unseen in train)"):format(
  s.train, s.test, os.date("!%Y-%m-%d %H:%M", s.cutoff), s.dropped))
local train = matrix(train_ev):kcore { min_user = 3, min_item = 5 }
local test = matrix(test_ev)

-- 2. Pick the number of iterations on a validation slice carved from train
--    (the test period stays unseen), then train on the whole of train.
local fit_ev, val_ev = rp.split.by_time(train_ev, { test_fraction = 0.2 })
local opts = { factors = 64, regularization = 0.01, alpha = 1.0, iterations = 30, seed = 42,
  validation = { test = matrix(val_ev), k = 10, metric = "ndcg", patience = 3 },
  on_iteration = function(it, info)
    print(("iteration %2d  loss %.5f  validation ndcg@10 %.4f"):format(it, info.loss,
      info.validation))
  end }
local best = rp.als.train(matrix(fit_ev), opts).iterations
opts.iterations, opts.validation, opts.on_iteration = best, nil, nil
local als = rp.als.train(train, opts)
print(als)

-- 3. Against the baselines, on the same users, with 95% bootstrap intervals.
local function evaluate(model, name)
  return rp.metrics.evaluate(model, train, test, { k = 10, bootstrap = 1000, name = name,
    metrics = { "precision", "map", "ndcg", "hit_rate" } })
end
local pop = rp.baseline.popularity(train)
local r_als = evaluate(als, "als")
local r_knn = evaluate(rp.baseline.item_knn(train, { k = 50 }), "item_knn")
print(rp.metrics.format { r_als, r_knn, evaluate(pop, "popularity") })
local d = rp.metrics.compare(r_als, r_knn).ndcg
print(("ALS is better than item-kNN by %.4f NDCG@10 [%.4f, %.4f]"):format(d.diff, d.lo, d.hi))

-- 4. Serving.  Nothing is excluded unless asked: `exclude = train` drops
--    what the user already has.
local items = als:recommend("u42", { k = 5, exclude = train })
print("u42: " .. table.concat(items, " "))
print(("like %s: %s"):format(items[1],
  table.concat(als:similar_items(items[1], { k = 4, include_self = false }), " ")))
print("new user with i1, i2: " .. table.concat(als:recommend_new({ "i1", "i2" }, { k = 5 }), " "))
local because, weight = als:explain("u42", items[1], { k = 2 })
print(("%s for u42 because of %s (%.3f) and %s (%.3f)"):format(items[1], because[1], weight[1],
  because[2], weight[2]))

-- 5. Cold start, the first matching rule answers: ALS for users it was
--    trained on, their few events folded into ALS for newcomers who have
--    some, popularity in their age band for users we only have a profile of,
--    and popularity for anyone else.
local users = rp.hybrid.attributes("examples/shop/users.csv",
  { id = "user_id", map = train.users, fields = { age_band = true } })
local chain = rp.hybrid.chain {
  { when = function(ctx) return ctx.known end, use = als },
  { when = function(ctx) return ctx.n > 0 end, use = rp.hybrid.fold_in(als) },
  { when = function(ctx) return ctx.attributes.age_band ~= nil end,
    use = rp.hybrid.segment_popularity(train, users, { field = "age_band" }) },
  { use = pop },
  train = train, attributes = users,
}
-- exclude = train: the ALS rule, like als:recommend, excludes nothing itself.
-- u2894's first event is after the cutoff; visitor-7 and -8 are not in users.csv.
for _, q in ipairs { { "u42" }, { "u2894" }, { "visitor-7" }, { "visitor-8", { "i1", "i2" } } } do
  local list, _, reason = chain:recommend(q[1], { k = 5, exclude = train, history = q[2] })
  print(("%s -> %s: %s"):format(q[1], reason, table.concat(list, " ")))
end

-- 6. Save, load back (a loaded model has its own id maps), same answer.
os.execute("mkdir -p out")
als:save("out/shop_als.rpa")
local again = rp.als.load("out/shop_als.rpa"):recommend("u42", { k = 5, exclude = train })
print(("loaded model, u42: %s (%s)"):format(table.concat(again, " "),
  table.concat(again, " ") == table.concat(items, " ") and "same" or "DIFFERENT"))
