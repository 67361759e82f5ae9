-- recpipe.tune_search (part of recpipe.tune): search spaces (grid, seeded
-- random samples) and the hyperparameter search over them.
local rp = require "recpipe"

local M = {}

-- a mistake in the configuration: the message alone, no traceback
local function fail(msg) rp.config.error(msg) end

local build = require("recpipe.tune_models").build

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
    local model = build(mcfg, fit.train, fit.train_ev)
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

return M
