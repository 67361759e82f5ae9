-- drift.lua: has the traffic shifted, have the answers changed, are the
-- served lists still clicked?  The drift measures of rp.monitor for the
-- last window of events against the previous window and against the
-- training data, optionally two models' answers and the serving logs,
-- each against its threshold; a report, alerts (logged, recorded in the
-- registry when one is given) and exit status `exit_code` (2) when any
-- alert fires (0 when none, 1 on an error).
--
--   recpipe run examples/drift.yaml
--   recpipe run pipelines/drift.lua now=2024-03-11 window_days=7 thresholds.previous.item_psi=0.3
--   (under recpipe schedule: now is the scheduler's clock, RECPIPE_NOW)
--
-- Config (YAML or key=value; unknown keys are refused):
--   data         path, read (rp.io.read_events options): the event log
--   now          end of the last window (Unix seconds or ISO 8601); default RECPIPE_NOW, else
--                one second after the last event.  Events after now are left out
--   window_days  length of the last window and of the previous one (7)
--   train        the training data: days (28: the days before the last window; 0: all of
--                them), or from/to, or path (a file read onto the log's maps)
--   compare      previous, train: which window comparisons to run (both true)
--   monitor      item_bins, context_bins, epsilon: rp.monitor.windows options
--   thresholds   previous, train, models, serving: {measure = number | false}, over the C
--                defaults (rp.monitor.measures()); off by default: new_users and new_items
--                against the previous window, volume and activity against the training data
--   models       reference, current (a model file, or "live" / a version number of `model` in
--                the registry), users (1000: a sample), k (10), seed: rp.monitor.models
--   serving      impressions, feedback (a path or a list of paths) or log_dir (recpipe
--                serve's daily files), horizon_days (1), click, conversion, level, hits
--                ("feedback" or "data": the events a hit may be)
--   registry     a registry file (default $RECPIPE_REGISTRY; none: nothing recorded)
--   model        the model name in the registry ("shop")
--   report       a CSV of every value ("out/drift.csv"; "" = none)
--   exit_code    the exit status when an alert fires (2)
local rp = require "recpipe"

local DAY = 86400
local DEFAULTS = {
  data = { path = "examples/shop/events.csv.gz",
           read = { user = "user_id", item = "item_id", time = "timestamp", event = "event",
                    context = { "device", "country" } } },
  window_days = 7,
  train = { days = 28 },
  compare = { previous = true, train = true },
  monitor = {},
  thresholds = {
    previous = { new_users = false, new_items = false },
    train = { volume = false, activity_psi = false, activity_mean = false,
              activity_median = false },
    models = {}, serving = {} },
  model = "shop",
  report = "out/drift.csv",
  exit_code = 2,
}
-- the keys each section takes (true: any value, checked where it is used)
local K = rp.config.keys
local KNOWN = {
  data = K({ "path" }, { read = K((function()
    local names = {}
    for _, o in ipairs(rp.io.options("read_events")) do names[#names + 1] = o.name end
    return names
  end)()) }),
  now = true, window_days = true,
  train = K { "days", "from", "to", "path" }, compare = K { "previous", "train" },
  monitor = K { "item_bins", "context_bins", "epsilon" },
  thresholds = K { "previous", "train", "models", "serving" },
  models = K { "reference", "current", "users", "k", "seed", "rbo_p", "score_bins" },
  serving = K { "impressions", "feedback", "log_dir", "horizon_days", "click", "conversion",
                "level", "hits" },
  registry = true, model = true, report = true, exit_code = true,
}

local given = rp.config.args({}, ...)
rp.config.check(given, KNOWN, "drift")
local cfg = rp.config.merge(DEFAULTS, given) -- sections merge key by key
for _, k in ipairs { "previous", "train", "models", "serving" } do
  -- the names and ranges are checked now, before any work
  local ok, msg = pcall(rp.monitor.thresholds, cfg.thresholds[k])
  if not ok then
    rp.config.error(("drift: thresholds.%s: %s"):format(k, tostring(msg):match("field 'thresholds': (.*)%)$")
      or msg))
  end
end
if cfg.registry == nil then cfg.registry = os.getenv("RECPIPE_REGISTRY") end

local function seconds(v, what)
  if type(v) == "string" and tonumber(v) then v = tonumber(v) end
  local ok, t = pcall(rp.split.time, v)
  if not ok then rp.config.error(("drift: %s must be Unix seconds or ISO 8601 text, got %s"):format(what,
    tostring(v))) end
  return t
end
local function iso(t) return os.date("!%Y-%m-%d %H:%M", math.floor(t)) end

-- ---- the registry (optional) ------------------------------------------------------------
local reg, run
if cfg.registry and cfg.registry ~= "" then
  if not rp.registry then rp.config.error("drift: this recpipe has no rp.registry (registry = '"
    .. cfg.registry .. "')") end
  reg = rp.registry.open(cfg.registry)
  run = reg:begin { pipeline = "drift", config = cfg, inputs = { cfg.data.path } }
end
local function log(level, fmt, ...)
  if run then run:log(level, fmt, ...) else rp.log[level](fmt, ...) end
end

-- ---- windows ----------------------------------------------------------------------------------
local all = rp.io.read_events(cfg.data.path, cfg.data.read)
if not all:has_time() then rp.config.error("drift: the log has no time column (data.read.time)") end
local now = cfg.now ~= nil and seconds(cfg.now, "now")
  or os.getenv("RECPIPE_NOW") and seconds(os.getenv("RECPIPE_NOW"), "RECPIPE_NOW")
  or select(2, all:time_range()) + 1
local W = math.floor(cfg.window_days * DAY)
if not (W > 0) then rp.config.error("drift: window_days must be positive, got " .. tostring(cfg.window_days)) end
local last_from = now - W
local last = all:where { from = last_from, to = now }
local previous = all:where { from = last_from - W, to = last_from }
local train, train_what
if cfg.train.path then
  train = rp.io.read_events(cfg.train.path, rp.config.merge(cfg.data.read,
    { users = all.users, items = all.items }))
  train_what = cfg.train.path
elseif cfg.train.from or cfg.train.to then
  local f, t = cfg.train.from and seconds(cfg.train.from, "train.from"),
    cfg.train.to and seconds(cfg.train.to, "train.to") or last_from
  train = all:where { from = f, to = t }
  train_what = ("%s .. %s"):format(f and iso(f) or "start", iso(t))
else
  local days = cfg.train.days or 0
  train = all:where { from = days > 0 and last_from - math.floor(days * DAY) or nil, to = last_from }
  train_what = days > 0 and ("the %g days before"):format(days) or "everything before"
end
log("info", "drift check at %s: last window %s .. %s, %d events; previous %d; training data "
  .. "(%s) %d", iso(now), iso(last_from), iso(now), #last, #previous, train_what, #train)

local checks = {} -- {name, report}
if cfg.compare.previous ~= false then
  checks[#checks + 1] = { "previous", rp.monitor.windows(previous, last, {
    item_bins = cfg.monitor.item_bins, context_bins = cfg.monitor.context_bins,
    epsilon = cfg.monitor.epsilon, thresholds = cfg.thresholds.previous }) }
end
if cfg.compare.train ~= false then
  checks[#checks + 1] = { "train", rp.monitor.windows(train, last, {
    item_bins = cfg.monitor.item_bins, context_bins = cfg.monitor.context_bins,
    epsilon = cfg.monitor.epsilon, thresholds = cfg.thresholds.train }) }
end

-- ---- two models' answers ------------------------------------------------------------------------
local function load_model(spec, what)
  if type(spec) == "string" and spec ~= "live" and not tonumber(spec) then
    return rp.als.load(spec), spec
  end
  if not reg then rp.config.error(("drift: models.%s = %s needs a registry"):format(what, tostring(spec))) end
  local version = spec ~= "live" and math.tointeger(tonumber(spec)) or nil
  local m, v = reg:load(cfg.model, version)
  return m, ("%s v%d"):format(cfg.model, v)
end
if cfg.models then
  local m = cfg.models
  if not m.reference or not m.current then
    rp.config.error("drift: models needs reference and current (a model file, 'live' or a version)")
  end
  local ra, na = load_model(m.reference, "reference")
  local rb, nb = load_model(m.current, "current")
  log("info", "comparing the answers of %s and %s", na, nb)
  checks[#checks + 1] = { "models", (rp.monitor.models(ra, rb, { users = m.users or 1000,
    k = m.k, seed = m.seed, rbo_p = m.rbo_p, score_bins = m.score_bins,
    thresholds = cfg.thresholds.models })) }
end

-- ---- serving logs -----------------------------------------------------------------------------------
local function exists(p)
  local f = io.open(p, "r")
  if f then f:close() end
  return f ~= nil
end
local function paths(v, log_dir, prefix, from, to)
  if v then return type(v) == "table" and v or { v } end
  local out = {}
  if exists(log_dir .. "/" .. prefix .. ".csv") then out[1] = log_dir .. "/" .. prefix .. ".csv" end
  for d = math.floor(from / DAY), math.floor(to / DAY) do
    local p = ("%s/%s-%s.csv"):format(log_dir, prefix, os.date("!%Y-%m-%d", d * DAY))
    if exists(p) then out[#out + 1] = p end
  end
  return out
end
-- the files of list as one log (on the maps of `on` when given)
local function read_all(list, opts, on)
  local parts = {}
  for i, p in ipairs(list) do
    local o, base = rp.config.merge(opts, {}), parts[1] or on
    if base then o.users, o.items = base.users, base.items end
    parts[i] = rp.io.read_events(p, o)
  end
  return #parts == 1 and parts[1] or rp.io.concat(parts)
end
if cfg.serving then
  local s = cfg.serving
  if not (s.log_dir or (s.impressions and s.feedback)) then
    rp.config.error("drift: serving needs log_dir, or impressions and feedback")
  end
  local H = math.floor((s.horizon_days or 1) * DAY)
  -- requests of the windows [now - H - 2W, now - H): each had its whole horizon
  local to, from = now - H, now - H - 2 * W
  local ip = paths(s.impressions, s.log_dir, "impressions", from - DAY, to + DAY)
  local fp = paths(s.feedback, s.log_dir, "events", from - DAY, now)
  if #ip == 0 or #fp == 0 then
    log("warn", "serving: no %s files in %s for %s .. %s", #ip == 0 and "impression" or "event",
      s.log_dir, iso(from), iso(now))
  else
    local imp = read_all(ip, { user = "user_id", item = "item_id", time = "timestamp",
      value = "score", context = { "request_id", "model_version", "reason" } })
    local fb = read_all(fp, { user = "user_id", item = "item_id", time = "timestamp",
      event = "event", context = { "request_id" } }, imp)
    local hits
    if s.hits == "data" then
      hits = rp.io.read_events(cfg.data.path, rp.config.merge(cfg.data.read,
        { users = imp.users, items = imp.items }))
    elseif s.hits ~= nil and s.hits ~= "feedback" then
      rp.config.error("drift: serving.hits must be 'feedback' or 'data', got " .. tostring(s.hits))
    end
    checks[#checks + 1] = { "serving", rp.monitor.serving(imp, fb:where { to = now }, {
      hits = hits and hits:where { to = now }, horizon = H, hit_horizon = H,
      click = s.click, conversion = s.conversion, level = s.level,
      window = { from = to - W, to = to }, reference = { from = from, to = to - W },
      thresholds = cfg.thresholds.serving }) }
  end
end

-- ---- report ------------------------------------------------------------------------------------------
local rows, alerts = {}, {}
local function key(v) return v.measure .. (v.column and ("[" .. v.column .. "]") or "") end
for _, c in ipairs(checks) do
  local name, r = c[1], c[2]
  local fired = {}
  for _, a in ipairs(r.alerts) do
    fired[key(a)] = true
    alerts[#alerts + 1] = { comparison = name, alert = a }
  end
  for _, v in ipairs(r.values) do
    local t = r.thresholds[v.measure]
    rows[#rows + 1] = { comparison = name, measure = v.measure, column = v.column, value = v.value,
                        threshold = t, alert = fired[key(v)] or false }
  end
end

local directions = {}
for _, m in ipairs(rp.monitor.measures()) do directions[m.name] = m.direction end
local function thr(row)
  if row.threshold == false then return "off" end
  local d = directions[row.measure]
  return (d == "above" and "> " or d == "below" and "< " or "|x| > ") .. ("%.4g"):format(row.threshold)
end
print(("Drift check at %s UTC: last %g days from %s (%d events)"):format(iso(now), cfg.window_days,
  iso(last_from), #last))
print(("%-10s %-26s %12s  %s"):format("against", "measure", "value", "threshold"))
for _, row in ipairs(rows) do
  local text = ("%-10s %-26s %12.4f  %-12s%s"):format(row.comparison, key(row), row.value,
    thr(row), row.alert and "  ALERT" or "")
  print((text:gsub("%s+$", "")))
end
if cfg.serving and checks[#checks][1] == "serving" then
  local r = checks[#checks][2]
  for _, g in ipairs { "by_version", "by_reason" } do
    for name, x in pairs(r[g] or {}) do
      print(("serving %s %-12s requests %6d  ctr %.4f [%.4f, %.4f]  conversion %.4f  hit rate %.4f")
        :format(g:sub(4), name, x.requests, x.ctr.rate or 0 / 0, x.ctr.lo or 0 / 0,
          x.ctr.hi or 0 / 0, x.conversion.rate or 0 / 0, x.hit_rate.rate or 0 / 0))
    end
  end
end
for _, a in ipairs(alerts) do
  log("warn", "drift alert (%s): %s", a.comparison, a.alert.message)
end
print(#alerts == 0 and "no alert" or ("%d alert(s)"):format(#alerts))

if cfg.report and cfg.report ~= "" then
  local out = {}
  for _, row in ipairs(rows) do
    out[#out + 1] = { now, row.comparison, row.measure, row.column, row.value,
      row.threshold ~= false and row.threshold or nil, directions[row.measure],
      tostring(row.alert) }
  end
  require("recpipe.tune").write(cfg.report, require("recpipe.csv").text({ "now", "comparison",
    "measure", "column", "value", "threshold", "direction", "alert" }, out))
end

-- ---- the registry ---------------------------------------------------------------------------------
if run then
  local window = { from = last_from, to = now }
  for _, row in ipairs(rows) do
    local d = directions[row.measure]
    local name = row.comparison .. "." .. row.measure .. (row.column and ("." .. row.column) or "")
    run:measure(name, d == "abs" and math.abs(row.value) or row.value, {
      threshold = row.threshold or nil, direction = d == "below" and "below" or "above",
      from = window.from, to = window.to,
      info = d == "abs" and ('{"signed":%.17g}'):format(row.value) or nil })
  end
  for _, c in ipairs(checks) do
    if c[1] == "serving" then
      for g, label in pairs { by_version = "version", by_reason = "reason" } do
        for name, x in pairs(c[2][g] or {}) do
          for _, m in ipairs { "ctr", "conversion", "hit_rate" } do
            if x[m].rate then
              run:measure(m, x[m].rate, { lo = x[m].lo, hi = x[m].hi, model = cfg.model,
                version = g == "by_version" and math.tointeger(tonumber(name)) or nil,
                label = label .. " " .. name, from = now - W, to = now })
            end
          end
        end
      end
    end
  end
  for _, a in ipairs(alerts) do
    run:alert(a.comparison .. "." .. a.alert.measure, a.alert.message, a.alert.value,
      a.alert.threshold)
  end
  run:finish("ok", #alerts == 0 and "no alert" or ("%d alert(s)"):format(#alerts))
end
if #alerts > 0 then os.exit(cfg.exit_code, true) end
