-- tune.lua: hyperparameter search (grid or random) validated on a time
-- split carved from the training period -- never the test period -- then
-- the best configuration retrained on the whole training part and
-- evaluated once on test.  Writes the results table as CSV and Markdown
-- (best first) and a self-contained HTML report (the validation metric
-- against each hyperparameter, the table, the final test figures).
--
--   recpipe run examples/tune.yaml                (the example shop log)
--   recpipe run examples/tune_ml100k.yaml         (MovieLens 100K ua split)
--
-- Config (defaults below):
--   data, split, matrix:  as in evaluate.lua (split = the held-out test part)
--   validation: a split of the training part: method (by_time | per_user_time |
--               leave_last | random) and its options
--   model:  the fixed part of the model config (type, iterations, seed, ...)
--   search: method = grid | random, trials, seed, space = {param = list or
--           {min, max, log, int}} (factors, regularization, alpha, confidence,
--           iterations, values, ... any model option)
--   eval:   k, metric (what the search maximises), metrics, bootstrap
--   out:    directory for results.csv, results.md and report.html
local rp = require "recpipe"
local tune = require "recpipe.tune"
local R = require "recpipe.report"

local cfg = tune.config({
  data = tune.shop_data(),
  split = { method = "by_time", test_fraction = 0.2 },
  validation = { method = "by_time", test_fraction = 0.2 },
  matrix = { aggregate = "sum" },
  model = { type = "als", iterations = 15, seed = 42 },
  search = {
    method = "grid",
    space = { factors = { 32, 64 }, regularization = { 0.01, 0.1, 1.0 }, alpha = { 1, 10 } },
  },
  eval = { k = 10, metric = "ndcg", bootstrap = 1000, seed = 42,
           metrics = { "ndcg", "map", "precision", "precision_pooled", "recall", "hit_rate",
                       "auc", "coverage" } },
  out = "out/tune",
}, { "data", "split", "validation", "model", "search",
     -- every key this pipeline reads: any other is refused, naming the file
     keys = { data = tune.DATA_KEYS, split = true, validation = true, matrix = tune.MATRIX_KEYS,
              model = true,
              search = rp.config.keys({ "method", "trials", "seed" }, { space = true }),
              eval = rp.config.keys { "k", "metric", "metrics", "bootstrap", "seed", "threads" },
              out = true } }, ...)

local t0 = rp.clock()
local ev = cfg.eval
local d = tune.load(cfg)
rp.log.info("data: %d events; train %d, test %d events (%s)", #d.ev, d.split.train,
  d.split.test, d.split.method)

-- the validation split comes out of the training part only
local fit_ev, val_ev, vs = tune.split(d.train_ev, cfg.validation, cfg._config_file)
local fit = { train = tune.matrix(fit_ev, cfg.matrix), train_ev = fit_ev }
local val = tune.matrix(val_ev, cfg.matrix)
rp.log.info("validation (%s of the training part): fit %d, validation %d events%s",
  cfg.validation.method or "by_time", vs.train, vs.test,
  (vs.dropped or 0) > 0 and (", %d of unknown users/items dropped"):format(vs.dropped) or "")

local metric = ev.metric or "ndcg"
local metrics = ev.metrics or { metric }
local has = false
for _, m in ipairs(metrics) do has = has or m == metric end
if not has then metrics[#metrics + 1] = metric end

local results, names = tune.search(cfg.search, cfg.model, fit, val, {
  k = ev.k, metric = metric, metrics = metrics, threads = ev.threads,
  on_result = function(i, n, r)
    local ps = {}
    for _, p in ipairs(tune.param_names(cfg.search.space or {})) do
      ps[#ps + 1] = p .. "=" .. tostring(r.params[p])
    end
    rp.log.info("[%d/%d] %s: %s@%d %.4f (%.1f s)", i, n, table.concat(ps, " "), metric, ev.k,
      r.score or 0 / 0, r.seconds)
  end,
})
if #results == 0 then error("the search space gave no configuration") end

local out = cfg.out
tune.write(out .. "/results.csv", tune.csv(results, names, metrics))
tune.write(out .. "/results.md", tune.markdown(results, names, metrics))
print(tune.markdown(results, names, metrics))

-- the best configuration, retrained on the whole training part, scored once on test
local best = {}
for k, v in pairs(cfg.model) do best[k] = v end
for k, v in pairs(results[1].params) do best[k] = v end
local model = tune.build(best, d.train, d.train_ev)
local final = rp.metrics.evaluate(model, d.train, d.test, { k = ev.k, metrics = metrics,
  bootstrap = ev.bootstrap, seed = ev.seed, name = "best" })
local bp = {}
for _, p in ipairs(names) do bp[#bp + 1] = p .. "=" .. tostring(results[1].params[p]) end
print(("best on validation: %s (%s@%d %.4f)"):format(table.concat(bp, " "), metric, ev.k,
  results[1].score))
print(final)

local log_params = { regularization = true, alpha = true, shrink = true }
local html = R.tuning(results, {
  metric = metric .. "@" .. ev.k, params = names, final = final, log_params = log_params,
  model = cfg.model,
  title = "Tuning: " .. (cfg.data.path or "?"),
  subtitle = ("%s search over %d configurations; validation = %s split of the training part (%d fit, %d validation events); best: %s; test evaluated once.")
    :format(cfg.search.method or "grid", #results, cfg.validation.method or "by_time", vs.train,
      vs.test, table.concat(bp, " ")),
  generated = os.date("!%Y-%m-%d %H:%M UTC"),
})
R.write(out .. "/report.html", html)
rp.log.info("wrote %s/results.csv, results.md, report.html in %.1f s", out, rp.clock() - t0)
