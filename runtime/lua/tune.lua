-- recpipe.tune: what the evaluate, tune, backtest and coldstart pipelines share --
-- reading the dataset a YAML config describes, splitting it, building a
-- model from a config table -- and the hyperparameter search itself.
--
--   local tune = require "recpipe.tune"
--   local d = tune.load(cfg)                  -- d.train, d.test (Matrices), d.train_ev, ...
--   local model = tune.build({ type = "als", factors = 64 }, d.train, d.train_ev)
--   local res = tune.search(cfg.search, { type = "als", iterations = 15 }, fit, val, {...})
local rp = require "recpipe"

local M = {}

-- a mistake in the configuration: the message alone, no traceback
local function fail(msg) rp.config.error(msg) end

-- ---- configuration ------------------------------------------------------------------
-- M.config(defaults, whole, ...) -> cfg: the pipeline's configuration from a
-- YAML run or key=value arguments (rp.config.args).  Sections named in
-- `whole` (data, split, model, search, ...) are taken as given when the
-- user gives them at all, so a user's {method: leave_last, k: 1} split is
-- not mixed with the default's test_fraction; the other sections are
-- merged key by key over the defaults.
-- whole.keys (a schema, rp.config.check) lists every key the pipeline
-- uses: any other key of the user's config is refused, naming the file.
function M.config(defaults, whole, ...)
  local given = rp.config.args({}, ...)
  if whole.keys then rp.config.check(given, whole.keys, "arguments") end
  local cfg = {}
  local set = {}
  for _, k in ipairs(whole) do set[k] = true end
  for k, v in pairs(defaults) do
    if set[k] and given[k] ~= nil then
      cfg[k] = given[k]
    elseif type(v) == "table" and type(given[k]) == "table" then
      cfg[k] = rp.config.merge(v, given[k])
    elseif given[k] ~= nil then
      cfg[k] = given[k]
    else
      cfg[k] = type(v) == "table" and rp.config.merge(v, {}) or v
    end
  end
  for k, v in pairs(given) do if cfg[k] == nil then cfg[k] = v end end
  return cfg
end

-- ---- data ------------------------------------------------------------------------
-- M.shop_data() -> the data section of the pipelines' default dataset: the
-- example shop log (examples/shop, from examples/generate.lua) and how to
-- read it, events weighted purchase 5, add-to-cart 3, view 1.
function M.shop_data()
  return { path = "examples/shop/events.csv.gz",
           read = { user = "user_id", item = "item_id", time = "timestamp", event = "event",
                    weights = { purchase = 5, addtocart = 3, view = 1 } } }
end

-- The names of a function's options as its module exports them
-- (rp.<module>.options(fname)), less those a config cannot give.
local function option_names(opts, except)
  local names = {}
  for _, o in ipairs(opts) do
    if not (except and except[o.name]) then names[#names + 1] = o.name end
  end
  return names
end
M.option_names = option_names

-- read options accepted under data.read: rp.io.read_events's own, less the
-- id maps the pipeline passes itself
local READ_KEYS = option_names(rp.io.options("read_events"), { users = true, items = true })

local function read_opts(r)
  local o = {}
  for _, k in ipairs(READ_KEYS) do o[k] = r and r[k] end
  if r then
    for k in pairs(r) do
      local ok = false
      for _, kk in ipairs(READ_KEYS) do ok = ok or kk == k end
      if not ok then fail(("data.read: unknown option '%s' (known: %s)"):format(k,
        table.concat(READ_KEYS, ", ")), 3) end
    end
  end
  return o
end

-- The schema pieces the pipelines share (rp.config.check): data = {path,
-- test_path, read = read_events's options}, matrix = to_matrix's options
-- (less `now`), split = anything (the split function checks its options
-- when called: M.split names the file).
M.READ_KEYS = rp.config.keys(READ_KEYS)
M.DATA_KEYS = rp.config.keys({ "path", "test_path" }, { read = M.READ_KEYS })
M.MATRIX_KEYS = rp.config.keys(option_names(rp.io.options("to_matrix"), { now = true }))

-- M.split(ev, scfg[, where]) -> train_ev, test_ev, summary per a split config
-- {method = "by_time"|"random"|"leave_last"|"per_user_time", ...options};
-- an option the method does not take is an error naming `where` (the
-- config file) and the known ones.
function M.split(ev, s, where)
  s = s or {}
  local method = s.method or "by_time"
  local o = {}
  for k, v in pairs(s) do if k ~= "method" then o[k] = v end end
  local f = rp.split[method]
  if type(f) ~= "function" or method == "kfold" or method == "rolling" or method == "time"
    or method == "span" or method:sub(1, 1) == "_" then
    fail(("split.method must be one of by_time, random, leave_last, per_user_time, got '%s'")
      :format(tostring(method)), 2)
  end
  local r = table.pack(pcall(f, ev, o))
  if r[1] then return table.unpack(r, 2, r.n) end
  local msg = type(r[2]) == "string" and r[2]:match("bad argument #2 to '[^']*' %((.*)%)$")
  if msg then rp.config.error(("split (%s): %s"):format(method, msg), where) end
  error(r[2], 0)
end

-- M.matrix(ev, mcfg) -> Matrix: ev:to_matrix with the config's aggregation
-- (mcfg: {aggregate = "sum", half_life_days = ...})
function M.matrix(ev, m)
  m = m or {}
  return ev:to_matrix { aggregate = m.aggregate, half_life_days = m.half_life_days }
end

-- M.load(cfg) -> {ev, train_ev, test_ev, train, test, split = summary}
-- cfg.data = {path, read = {...}, test_path = nil}; cfg.split = split config
-- (ignored when test_path gives a pre-split test file); cfg.matrix.
function M.load(cfg)
  local d = cfg.data
  if type(d) ~= "table" or type(d.path) ~= "string" then
    fail("config: data.path (the event log to read) is required", 2)
  end
  local ro = read_opts(d.read)
  local out = {}
  out.ev = rp.io.read_events(d.path, ro)
  if d.test_path then
    out.train_ev = out.ev
    local to = read_opts(d.read)
    to.users, to.items = out.ev.users, out.ev.items
    out.test_ev = rp.io.read_events(d.test_path, to)
    out.split = { input = #out.ev + #out.test_ev, train = #out.ev, test = #out.test_ev,
                  method = "file" }
  else
    local summary
    out.train_ev, out.test_ev, summary = M.split(out.ev, cfg.split, cfg._config_file)
    summary.method = (cfg.split or {}).method or "by_time"
    out.split = summary
  end
  out.train = M.matrix(out.train_ev, cfg.matrix)
  out.test = M.matrix(out.test_ev, cfg.matrix)
  return out
end

-- ---- models ----------------------------------------------------------------------------
-- values transforms applied to the train matrix a model is fitted on
local function transform(train, v, mcfg)
  if v == nil or v == "raw" then return train end
  if v == "binary" then return train:binarize { threshold = mcfg.binary_threshold or 0 } end
  if v == "log1p" then return train:log1p(mcfg.log_alpha or 1.0, mcfg.log_eps or 1.0) end
  if v == "bm25" then return train:bm25 { k1 = mcfg.bm25_k1, b = mcfg.bm25_b } end
  fail(("model values must be raw, binary, log1p or bm25, got '%s'"):format(tostring(v)), 3)
end

-- rp.als.train's options, less those that take Lua objects
local ALS_KEYS = rp.als and option_names(rp.als.options("train"),
  { init = true, validation = true, on_iteration = true }) or {}
local BASE = rp.baseline and rp.baseline.options() or {}
local KNN_KEYS = BASE.item_knn and option_names(BASE.item_knn) or {}
local POP_KEYS = BASE.popularity and option_names(BASE.popularity) or {}
local RANDOM_KEYS = BASE.random and option_names(BASE.random) or {}
local COMMON = { type = true, name = true, values = true, binary_threshold = true,
                 log_alpha = true, log_eps = true, bm25_k1 = true, bm25_b = true }

local function pick(cfg, keys, kind)
  local o, known = {}, {}
  for _, k in ipairs(keys) do
    o[k] = cfg[k]
    known[k] = true
  end
  for k in pairs(cfg) do
    if not known[k] and not COMMON[k] then
      fail(("model '%s': unknown option '%s' (known: %s)"):format(kind, tostring(k),
        table.concat(keys, ", ")), 3)
    end
  end
  return o
end

M.MODEL_TYPES = { "als", "item_knn", "popularity", "random" }

-- M.build(mcfg, train, train_ev) -> model
-- mcfg.type: als | item_knn | popularity | random; values = raw | binary |
-- log1p | bm25 (the train matrix the model is fitted on); the other keys
-- are the model's own options.
function M.build(mcfg, train, train_ev)
  local t = mcfg.type or "als"
  if t == "als" then
    if not rp.als then fail("model type 'als' needs the als module", 2) end
    return rp.als.train(transform(train, mcfg.values, mcfg), pick(mcfg, ALS_KEYS, "als"))
  elseif t == "item_knn" then
    return rp.baseline.item_knn(transform(train, mcfg.values, mcfg), pick(mcfg, KNN_KEYS, t))
  elseif t == "popularity" then
    local o = pick(mcfg, POP_KEYS, t)
    return rp.baseline.popularity((train_ev and (o.half_life_days or o.by == "events")) and train_ev
      or train, o)
  elseif t == "random" then
    return rp.baseline.random(train, pick(mcfg, RANDOM_KEYS, t))
  end
  fail(("model type must be one of %s, got '%s'"):format(table.concat(M.MODEL_TYPES, ", "),
    tostring(t)), 2)
end

-- ---- search spaces --------------------------------------------------------------------------
-- A small seeded generator (xorshift64*), so a random search is the same
-- for a seed on every platform.
local function rng(seed)
  local s = (seed or 1) ~ 0x9E3779B97F4A7C15
  if s == 0 then s = 1 end
  return function()
    s = s ~ (s >> 12)
    s = s ~ (s << 25)
    s = s ~ (s >> 27)
    local x = (s * 0x2545F4914F6CDD1D) >> 11
    return x / 9007199254740992.0
  end
end

-- the order parameters appear in tables and charts
local ORDER = { "factors", "regularization", "alpha", "confidence", "iterations", "values", "k",
                "similarity", "shrink", "cg_steps", "solver", "eps" }

function M.param_names(space)
  local names, seen = {}, {}
  for _, n in ipairs(ORDER) do
    if space[n] ~= nil then names[#names + 1] = n; seen[n] = true end
  end
  local rest = {}
  for n in pairs(space) do if not seen[n] then rest[#rest + 1] = n end end
  table.sort(rest)
  for _, n in ipairs(rest) do names[#names + 1] = n end
  return names
end

local function is_list(v) return type(v) == "table" and #v > 0 end

-- M.grid(space) -> array of parameter tables (cartesian product; a scalar
-- is a fixed value)
function M.grid(space)
  local names = M.param_names(space)
  local out = { {} }
  for _, n in ipairs(names) do
    local vals = space[n]
    if not is_list(vals) then
      if type(vals) == "table" then
        fail(("search.space.%s: a grid needs a list of values, got a range (use method: random)")
          :format(n), 2)
      end
      vals = { vals }
    end
    local nxt = {}
    for _, p in ipairs(out) do
      for _, v in ipairs(vals) do
        local q = {}
        for k, x in pairs(p) do q[k] = x end
        q[n] = v
        nxt[#nxt + 1] = q
      end
    end
    out = nxt
  end
  return out
end

-- M.sample(space, trials, seed) -> array of parameter tables: a list is a
-- uniform choice; {min = a, max = b[, log = true][, int = true]} a range
function M.sample(space, trials, seed)
  local names = M.param_names(space)
  local r = rng(seed)
  local out = {}
  for t = 1, trials do
    local p = {}
    for _, n in ipairs(names) do
      local s = space[n]
      if is_list(s) then
        p[n] = s[1 + math.floor(r() * #s)]
      elseif type(s) == "table" then
        local lo, hi = s.min, s.max
        if type(lo) ~= "number" or type(hi) ~= "number" or hi < lo then
          fail(("search.space.%s: a range needs numbers min <= max"):format(n), 2)
        end
        local v
        if s.log then
          if lo <= 0 then fail(("search.space.%s: a log range needs min > 0"):format(n), 2) end
          v = math.exp(math.log(lo) + r() * (math.log(hi) - math.log(lo)))
        else
          v = lo + r() * (hi - lo)
        end
        if s.int or (math.type(lo) == "integer" and math.type(hi) == "integer" and not s.log) then
          v = math.floor(v + 0.5)
        end
        p[n] = v
      else
        p[n] = s
      end
    end
    out[t] = p
  end
  return out
end

-- M.search(scfg, base, fit, val, opts) -> results (best first), names
-- scfg = {method = "grid"|"random", trials, seed, space = {...}}; base is
-- the model config the space overrides; fit = {train = Matrix, train_ev},
-- val = Matrix; opts = {k, metric, metrics, threads, on_result(i, n, res)}.
-- Each result: {params, score, metrics = {...}, seconds, train_seconds}.
function M.search(scfg, base, fit, val, opts)
  scfg = scfg or {}
  local space = scfg.space or {}
  local configs
  if (scfg.method or "grid") == "grid" then
    configs = M.grid(space)
  elseif scfg.method == "random" then
    configs = M.sample(space, scfg.trials or 20, scfg.seed or 42)
  else
    fail(("search.method must be grid or random, got '%s'"):format(tostring(scfg.method)), 2)
  end
  local metric = opts.metric or "ndcg"
  local results = {}
  for i, p in ipairs(configs) do
    local mcfg = {}
    for k, v in pairs(base or {}) do mcfg[k] = v end
    for k, v in pairs(p) do mcfg[k] = v end
    local t0 = rp.clock()
    local model = M.build(mcfg, fit.train, fit.train_ev)
    local t1 = rp.clock()
    local rep = rp.metrics.evaluate(model, fit.train, val, { k = opts.k or 10,
      metrics = opts.metrics, threads = opts.threads })
    if model.free then model:free() end
    local res = { params = p, score = rep[metric], seconds = rp.clock() - t0,
                  train_seconds = t1 - t0, metrics = {} }
    for _, m in ipairs(rep.metrics) do res.metrics[m] = rep[m] end
    results[#results + 1] = res
    if opts.on_result then opts.on_result(i, #configs, res) end
    collectgarbage()
  end
  table.sort(results, function(a, b)
    return (a.score or -math.huge) > (b.score or -math.huge)
  end)
  return results, M.param_names(space)
end

-- ---- result tables ------------------------------------------------------------------------------
local function cell(v)
  if v == nil then return "" end
  if type(v) == "number" and math.type(v) ~= "integer" then return ("%.6g"):format(v) end
  return tostring(v)
end

local function csv_cell(v) return require("recpipe.csv").quote(cell(v)) end

-- M.csv(results, names, metrics) -> text (header + one line per result)
function M.csv(results, names, metrics)
  local head = { "rank" }
  for _, n in ipairs(names) do head[#head + 1] = n end
  for _, m in ipairs(metrics) do head[#head + 1] = m end
  head[#head + 1] = "train_seconds"
  head[#head + 1] = "seconds"
  local lines = { table.concat(head, ",") }
  for i, r in ipairs(results) do
    local row = { i }
    for _, n in ipairs(names) do row[#row + 1] = csv_cell(r.params[n]) end
    for _, m in ipairs(metrics) do row[#row + 1] = csv_cell(r.metrics[m]) end
    row[#row + 1] = csv_cell(r.train_seconds)
    row[#row + 1] = csv_cell(r.seconds)
    lines[#lines + 1] = table.concat(row, ",")
  end
  return table.concat(lines, "\n") .. "\n"
end

-- M.markdown(results, names, metrics) -> a Markdown table
function M.markdown(results, names, metrics)
  local head = { "#" }
  for _, n in ipairs(names) do head[#head + 1] = n end
  for _, m in ipairs(metrics) do head[#head + 1] = m end
  head[#head + 1] = "seconds"
  local lines = { "| " .. table.concat(head, " | ") .. " |",
                  "|" .. string.rep("---|", #head) }
  for i, r in ipairs(results) do
    local row = { tostring(i) }
    for _, n in ipairs(names) do row[#row + 1] = cell(r.params[n]) end
    for _, m in ipairs(metrics) do
      row[#row + 1] = r.metrics[m] and ("%.4f"):format(r.metrics[m]) or ""
    end
    row[#row + 1] = ("%.2f"):format(r.seconds or 0)
    lines[#lines + 1] = "| " .. table.concat(row, " | ") .. " |"
  end
  return table.concat(lines, "\n") .. "\n"
end

-- M.write(path, text): through a temporary file renamed into place
function M.write(path, text)
  local dir = path:match("^(.*)/[^/]*$")
  if dir and dir ~= "" then os.execute(("mkdir -p '%s'"):format(dir:gsub("'", "'\\''"))) end
  local tmp = path .. ".tmp"
  local f = assert(io.open(tmp, "wb"))
  f:write(text)
  f:close()
  assert(os.rename(tmp, path))
  return path
end

return M
