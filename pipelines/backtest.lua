-- backtest.lua: simulate retraining on a schedule over the history of a log
-- and measure how the metric decays between retrains.  For each cadence
-- (e.g. weekly and bi-weekly), rolling windows train a model on the last
-- train_days before each retrain and evaluate it on every following day
-- until the next retrain; the metric is then averaged per day since the
-- last retrain over every user evaluated that day (in any window), with a
-- 95% interval for that mean (R.mean_interval: normal approximation over
-- the user-days).  The chart's y axis starts at 0, with the intervals as
-- bars, so day-to-day noise does not look like a slope.
--
--   recpipe run examples/backtest.yaml
--   recpipe run pipelines/backtest.lua backtest.cadences=[7,14,28] backtest.train_days=90
--
-- Config (defaults below):
--   data, matrix, model: as in evaluate.lua (one model config)
--   backtest: train_days, cadences (days between retrains), expanding (train
--     from the first event instead of a sliding window), k, metric,
--     keep_unknown (count users/items unseen at retrain time), start, stop
--   report: the HTML file to write ("" = none)
local rp = require "recpipe"
local tune = require "recpipe.tune"
local R = require "recpipe.report"

local DAY = 86400
local cfg = tune.config({
  data = tune.shop_data(),
  matrix = { aggregate = "sum" },
  model = { type = "als", factors = 32, regularization = 0.01, alpha = 1, iterations = 15,
            seed = 42 },
  backtest = { train_days = 60, cadences = { 7, 14 }, expanding = false, k = 10,
               metric = "ndcg", keep_unknown = false },
  report = "out/backtest.html",
}, { "data", "model",
     -- every key this pipeline reads: any other is refused, naming the file
     keys = { data = rp.config.keys({ "path" }, { read = tune.READ_KEYS }),
              matrix = tune.MATRIX_KEYS, model = true,
              backtest = rp.config.keys { "train_days", "cadences", "expanding", "k", "metric",
                                          "keep_unknown", "start", "stop" },
              report = true } }, ...)

local b = cfg.backtest
local t0 = rp.clock()
local ev = rp.io.read_events(cfg.data.path, cfg.data.read)
local tmin, tmax = rp.split.span(ev)
if not tmin then rp.config.error("backtest needs a log with a time column (data.read.time)") end
rp.log.info("data: %d events over %.1f days; train window %s days%s", #ev,
  (tmax - tmin) / DAY, tostring(b.train_days), b.expanding and " (expanding)" or "")

local metric, k = b.metric or "ndcg", b.k or 10
local runs = {}
for _, cadence in ipairs(b.cadences) do
  local per_day, retrains, train_s, users_total, sum_total = {}, 0, 0, 0, 0
  for d = 1, math.ceil(cadence) do per_day[d] = { sum = 0, users = 0, values = {} } end
  for train_ev, test_ev, info in rp.split.rolling(ev, { train_days = b.train_days,
      test_days = cadence, step_days = cadence, expanding = b.expanding,
      keep_unknown = b.keep_unknown, start = b.start, stop = b.stop }) do
    if #train_ev > 0 and #test_ev > 0 then
      local t1 = rp.clock()
      local train = tune.matrix(train_ev, cfg.matrix)
      local model = tune.build(cfg.model, train, train_ev)
      train_s = train_s + (rp.clock() - t1)
      retrains = retrains + 1
      for d = 1, #per_day do
        local from = info.train_end + (d - 1) * DAY
        local day = rp.split.time_range(test_ev, { from = from, to = from + DAY })
        if #day > 0 then
          local r = rp.metrics.evaluate(model, train, tune.matrix(day, cfg.matrix),
            { k = k, metrics = { metric }, per_user = true })
          if r.users > 0 and r[metric] then
            per_day[d].sum = per_day[d].sum + r[metric] * r.users
            per_day[d].users = per_day[d].users + r.users
            sum_total, users_total = sum_total + r[metric] * r.users, users_total + r.users
            local vals = per_day[d].values
            for _, v in pairs(r:values(metric)) do vals[#vals + 1] = v end
          end
        end
      end
      if model.free then model:free() end
      collectgarbage()
    end
  end
  local curve, lo, hi = {}, {}, {}
  for d = 1, #per_day do
    curve[d] = per_day[d].users > 0 and per_day[d].sum / per_day[d].users or nil
    if #per_day[d].values > 0 then
      local _
      _, lo[d], hi[d] = R.mean_interval(per_day[d].values)
    end
    per_day[d].values = nil
  end
  runs[#runs + 1] = { cadence = cadence, per_day = per_day, curve = curve, lo = lo, hi = hi,
                      retrains = retrains,
                      train_seconds = train_s,
                      mean = users_total > 0 and sum_total / users_total or nil,
                      users = users_total }
  rp.log.info("every %s days: %d retrains (%.1f s training), mean %s@%d %.4f over %d user-days",
    tostring(cadence), retrains, train_s, metric, k, runs[#runs].mean or 0 / 0, users_total)
end

-- the decay table: one row per day since the last retrain
local maxd = 0
for _, r in ipairs(runs) do maxd = math.max(maxd, #r.curve) end
local head = { "day since retrain" }
-- each cell: the mean over that day's users [its 95% interval] (users)
for _, r in ipairs(runs) do head[#head + 1] = ("every %s days"):format(tostring(r.cadence)) end
print(table.concat(head, " | "))
local rows = {}
for d = 1, maxd do
  local cells, row = { ("%d"):format(d - 1) }, { d - 1 }
  for _, r in ipairs(runs) do
    local v, u = r.curve[d], r.per_day[d] and r.per_day[d].users or 0
    local ci = v and r.lo[d] and ("[%.4f, %.4f] "):format(r.lo[d], r.hi[d]) or ""
    cells[#cells + 1] = v and ("%.4f %s(%d users)"):format(v, ci, u) or "-"
    row[#row + 1] = v and { html = ("%.4f %s<span class=\"note\">(%d)</span>"):format(v,
      R.esc(ci), u) } or ""
  end
  print(table.concat(cells, " | "))
  rows[#rows + 1] = row
end
local sums = { "mean (all user-days)" }
local srow = { "mean" }
for _, r in ipairs(runs) do
  sums[#sums + 1] = r.mean and ("%.4f (%d retrains)"):format(r.mean, r.retrains) or "-"
  srow[#srow + 1] = r.mean and ("%.4f"):format(r.mean) or ""
end
print(table.concat(sums, " | "))
rows[#rows + 1] = srow

if cfg.report and cfg.report ~= "" then
  local series = {}
  for _, r in ipairs(runs) do
    local xs, ys, los, his = {}, {}, {}, {}
    for d = 1, #r.curve do
      if r.curve[d] then
        xs[#xs + 1], ys[#ys + 1] = d - 1, r.curve[d]
        los[#xs], his[#xs] = r.lo[d] or r.curve[d], r.hi[d] or r.curve[d]
      end
    end
    series[#series + 1] = { name = ("retrain every %s days"):format(tostring(r.cadence)), x = xs,
                            y = ys, lo = los, hi = his }
  end
  local cost = {}
  for _, r in ipairs(runs) do
    cost[#cost + 1] = { ("every %s days"):format(tostring(r.cadence)), r.retrains, r.train_seconds,
                        r.mean or "", r.users }
  end
  local body = {
    R.h2(("%s@%d by day since the last retrain"):format(metric, k)),
    R.lines { title = ("%s@%d vs days since retrain"):format(metric, k), xlabel =
      "days since the last retrain", ylabel = metric .. " (95% intervals)", series = series,
      points = true, width = 900, height = 360 },
    R.table(head, rows),
    R.h2("Model"),
    R.options_table { { name = cfg.model.type or "als", options = cfg.model } },
    R.h2("Cost and average"),
    R.table({ "cadence", "retrains", "training seconds", "mean " .. metric, "user-days" }, cost),
  }
  R.write(cfg.report, R.page {
    title = "Backtest: " .. cfg.data.path,
    subtitle = ("model %s; sliding train window %s days%s; each day evaluated on the users active that day, excluding what they did before the retrain.")
      :format(cfg.model.type or "als", tostring(b.train_days), b.expanding and " (expanding)" or ""),
    body = body, generated = os.date("!%Y-%m-%d %H:%M UTC") })
  rp.log.info("wrote %s", cfg.report)
end
rp.log.info("done in %.1f s", rp.clock() - t0)
