-- recpipe.tune_data (part of recpipe.tune): a pipeline's configuration and
-- its dataset -- reading the log a YAML config describes, splitting it,
-- building the matrices -- and the config schema pieces the pipelines share.
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

return M
