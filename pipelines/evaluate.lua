-- evaluate.lua: several models side by side on one dataset and split, with
-- bootstrap intervals, paired differences against the first model, and a
-- self-contained HTML report (metric@k curves, per-user distribution,
-- popularity of what each model recommends).
--
--   recpipe run examples/evaluate.yaml                 (the example shop log)
--   recpipe run examples/evaluate_ml100k.yaml          (MovieLens 100K ua split)
--   recpipe run pipelines/evaluate.lua data.path=log.csv split.method=leave_last
--
-- Config (YAML or key=value; defaults below):
--   data:   path, read (rp.io.read_events options), test_path (a pre-split test file)
--   split:  method (by_time | random | leave_last | per_user_time) and its options
--   matrix: aggregate (sum | max | count | last), half_life_days
--   models: list of {name, type = als | item_knn | popularity | random, values, ...options}
--   eval:   k, metrics, bootstrap, seed, curve_k (metric@1..curve_k in the report), threshold
--   report: the HTML file to write ("" = none); results: a CSV of the table ("" = none)
local rp = require "recpipe"
local tune = require "recpipe.tune"
local R = require "recpipe.report"
local csv = require "recpipe.csv"

local cfg = tune.config({
  data = tune.shop_data(),
  split = { method = "by_time", test_fraction = 0.2 },
  matrix = { aggregate = "sum" },
  models = {
    { name = "als", type = "als", factors = 64, regularization = 0.01, iterations = 15,
      alpha = 1.0, seed = 42 },
    { name = "item_knn", type = "item_knn", k = 50, similarity = "cosine" },
    { name = "popularity", type = "popularity" },
  },
  eval = { k = 10, bootstrap = 1000, seed = 42, curve_k = 50,
           metrics = { "precision", "recall", "precision_pooled", "map", "ndcg", "hit_rate",
                       "mrr", "auc", "coverage", "gini", "novelty" } },
  report = "out/evaluate.html",
  results = "",
}, { "data", "split", "models",
     -- every key this pipeline reads: any other is refused, naming the file
     keys = { data = tune.DATA_KEYS, split = true, matrix = tune.MATRIX_KEYS, models = true,
              eval = rp.config.keys { "k", "metrics", "bootstrap", "seed", "curve_k",
                                      "threshold" },
              report = true, results = true } }, ...)

local t0 = rp.clock()
local d = tune.load(cfg)
local s = d.split
rp.log.info("data: %d events, %d users, %d items; split %s: train %d, test %d events%s",
  #d.ev, #d.ev.users, #d.ev.items, s.method, s.train, s.test,
  (s.dropped or 0) > 0 and (", %d test events of unknown users/items dropped"):format(s.dropped)
    or "")

local ev = cfg.eval
local entries, reports = {}, {}
for i, mcfg in ipairs(cfg.models) do
  local name = mcfg.name or mcfg.type or ("model " .. i)
  local t1 = rp.clock()
  local model = tune.build(mcfg, d.train, d.train_ev)
  local fit = rp.clock() - t1
  local rep = rp.metrics.evaluate(model, d.train, d.test, { k = ev.k, metrics = ev.metrics,
    bootstrap = ev.bootstrap, seed = ev.seed, threshold = ev.threshold, name = name })
  local curve
  if (ev.curve_k or 0) > 0 then
    curve = rp.metrics.evaluate(model, d.train, d.test, { k = ev.curve_k, curve = true,
      threshold = ev.threshold, metrics = { "precision", "recall", "map", "ndcg", "hit_rate",
                                            "coverage" }, name = name })
  end
  rp.log.info("%s: fitted in %.2f s, evaluated %d users in %.2f s (%.0f users/s)", name, fit,
    rep.users, rep.seconds, rep.users_per_second or 0)
  entries[#entries + 1] = { name = name, report = rep, curve = curve, fit_seconds = fit,
                            options = mcfg }
  reports[#reports + 1] = rep
end

print(rp.metrics.format(reports))
local compares = {}
for i = 2, #reports do
  local c = rp.metrics.compare(reports[1], reports[i], { bootstrap = ev.bootstrap or 1000,
    seed = ev.seed, metrics = { "ndcg", "map", "precision", "recall", "hit_rate" } })
  print(c)
  compares[#compares + 1] = { a = reports[1].model, b = reports[i].model, result = c }
end

if cfg.results and cfg.results ~= "" then
  local rows = {}
  for _, r in ipairs(reports) do
    for _, m in ipairs(r.metrics) do
      local ci = r.ci and r.ci[m] or {}
      rows[#rows + 1] = { r.model, m, r[m], ci[1], ci[2] }
    end
  end
  tune.write(cfg.results, csv.text({ "model", "metric", "value", "lo", "hi" }, rows))
  rp.log.info("wrote %s", cfg.results)
end

if cfg.report and cfg.report ~= "" then
  local html = R.evaluation(entries, {
    title = "Evaluation: " .. (cfg.data.path or "?"),
    subtitle = ("%d events, %d users, %d items; split %s (train %d, test %d events); %d test users; k = %d")
      :format(#d.ev, #d.ev.users, #d.ev.items, s.method, s.train, s.test, reports[1].users, ev.k),
    compare = compares,
    generated = os.date("!%Y-%m-%d %H:%M UTC"),
  })
  R.write(cfg.report, html)
  rp.log.info("wrote %s", cfg.report)
end
rp.log.info("done in %.1f s", rp.clock() - t0)
