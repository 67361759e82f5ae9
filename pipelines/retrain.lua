-- retrain.lua: the weekly retrain of a live model, gated.
--
-- Reads the log up to "now" (the registry clock: RECPIPE_NOW under the
-- scheduler's clock override, else the wall clock), trains a candidate on
-- the history before the most recent gate.window_days (warm-started from
-- the live model), evaluates candidate and live model on that most recent
-- window with rp.metrics.evaluate (paired bootstrap), registers the
-- candidate and promotes it unless the gate refuses it.  Everything is
-- recorded in the registry: the run, its inputs' fingerprints, both
-- reports, the decision and its reason.  The first model of a name goes
-- live without a gate.
--
--   recpipe run examples/operations/retrain.yaml
--   recpipe run pipelines/retrain.lua registry=runs/registry.db model=shop
--   (under recpipe schedule: the job's config overrides these keys)
--
-- Config (YAML or key=value; defaults below):
--   registry       the registry file (default: $RECPIPE_REGISTRY, else runs/registry.db)
--   model          the model name in the registry
--   data           path, read (rp.io.read_events options) -- tune.shop_data() by default
--   gate_data      the log the gate judges on, when not data (path, read): the events
--                  the candidate learns from are not always the ones to trust
--   history_days   days of events before the window to train on (0: all)
--   matrix         aggregate, half_life_days
--   kcore          min_user, min_item (0: no k-core)
--   als            rp.als.train options
--   warm_start     start from the live model's factors (true)
--   gate           rp.registry gate options: metric, k, tolerance, bootstrap, level, seed,
--                  window_days, min_users (defaults in the C core)
--   fail_on_refuse exit with an error when the gate refuses (false: a refusal is a decision)
local rp = require "recpipe"
local tune = require "recpipe.tune"

local cfg = tune.config({
  registry = os.getenv("RECPIPE_REGISTRY") or "runs/registry.db",
  model = "shop",
  data = tune.shop_data(),
  gate_data = false,
  history_days = 0,
  matrix = { aggregate = "sum" },
  kcore = { min_user = 0, min_item = 0 },
  als = { factors = 64, regularization = 0.01, iterations = 15, alpha = 1.0, seed = 42 },
  warm_start = true,
  gate = {},
  fail_on_refuse = false,
}, { "data", "gate_data", "als",
     -- every key this pipeline reads: any other is refused, naming the file
     keys = { registry = true, model = true,
              data = rp.config.keys({ "path" }, { read = tune.READ_KEYS }),
              gate_data = rp.config.keys({ "path" }, { read = tune.READ_KEYS }),
              history_days = true, matrix = tune.MATRIX_KEYS,
              kcore = rp.config.keys { "min_user", "min_item" }, als = true, warm_start = true,
              gate = true, fail_on_refuse = true } }, ...)

local gate = rp.registry.gate_options(cfg.gate)
local reg <close> = rp.registry.open(cfg.registry)
local now = rp.registry.now()
local day = 86400
local cut = math.floor(now) - math.floor(gate.window_days * day) -- the gate window starts here

local run <close> = reg:begin { pipeline = "retrain", config = cfg, seed = cfg.als.seed,
  inputs = { cfg.data.path, cfg.gate_data and cfg.gate_data.path or nil } }
local function iso(t) return os.date("!%Y-%m-%d %H:%M", math.floor(t)) end

-- 1. The log as of now: events after now have not happened yet.
local all = rp.io.read_events(cfg.data.path, cfg.data.read)
local ev = all:where { to = math.floor(now) + 1 }
local from = cfg.history_days > 0 and (cut - math.floor(cfg.history_days * day)) or nil
local train_ev = ev:where { from = from, to = cut }
-- the gate's log: data, or gate_data read onto the same id maps
local judge = ev
if cfg.gate_data then
  local ro = {}
  for k, v in pairs(cfg.gate_data.read or cfg.data.read or {}) do ro[k] = v end
  ro.users, ro.items = all.users, all.items
  judge = rp.io.read_events(cfg.gate_data.path, ro):where { to = math.floor(now) + 1 }
end
local window_ev = judge:where { from = cut, to = math.floor(now) + 1 }
local last = reg:runs { name = "retrain", status = "ok", limit = 1 }[1]
local new_events = #ev:where { from = last and math.floor(last.started) or nil }
run:log("info", "now %s: %d events up to now, %d new since %s; training on %d events before %s, "
  .. "judging on %d events from %s", iso(now), #ev, new_events,
  last and iso(last.started) or "the start", #train_ev, iso(cut), #window_ev, iso(cut))
run:metric("events", #ev)
run:metric("new_events", new_events)
if #train_ev == 0 then error(("retrain: no events before %s to train on"):format(iso(cut))) end

-- 2. Train the candidate, warm-started from the live model.
local train = tune.matrix(train_ev, cfg.matrix)
if (cfg.kcore.min_user or 0) > 0 or (cfg.kcore.min_item or 0) > 0 then
  train = train:kcore { min_user = cfg.kcore.min_user, min_item = cfg.kcore.min_item }
end
local live_version = reg:live(cfg.model)
local live_model
if live_version then live_model = reg:load(cfg.model, live_version) end
local opts = {}
for k, v in pairs(cfg.als) do opts[k] = v end
if cfg.warm_start and live_model and live_model.factors == opts.factors then
  opts.init = live_model
end
local t0 = rp.clock()
local candidate = rp.als.train(train, opts)
run:log("info", "candidate: %s in %.2f s%s", tostring(candidate), rp.clock() - t0,
  opts.init and (" (warm start from version %d)"):format(live_version) or "")

-- 3. Register it, then promote it through the gate (the first goes live at once).
local window_train = tune.matrix(judge:where { from = from, to = cut }, cfg.matrix)
local window_test = tune.matrix(window_ev, cfg.matrix)
local report = rp.metrics.evaluate(candidate, window_train, window_test, {
  k = gate.k, metrics = { gate.metric }, bootstrap = gate.bootstrap, seed = gate.seed,
  level = gate.level, name = "candidate" })
run:metrics(report, { prefix = "candidate." })
local version = reg:register(cfg.model, candidate, {
  report = report, run = run, options = cfg.als,
  training = { fingerprint = rp.registry.fingerprint(cfg.data.path), from = from, to = cut,
               events = #train_ev } })
local ok, decision = reg:promote(cfg.model, version, {
  run = run, candidate = candidate, live = live_model, options = cfg.gate,
  train = window_train, test = window_test })
if decision.live_report then run:metrics(decision.live_report, { prefix = "live." }) end
if decision.diff then
  run:metric("gate.diff", decision.diff, { lo = decision.lo, hi = decision.hi, model = cfg.model,
                                          version = version })
end
local msg = ("%s %s v%d: %s"):format(ok and "promoted" or "refused", cfg.model, version,
  decision.reason)
run:log(ok and "info" or "warn", "%s", msg)
print(msg)
if not ok and cfg.fail_on_refuse then error(msg) end
run:finish("ok", msg)
