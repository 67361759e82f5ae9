-- recpipe.tune_models (part of recpipe.tune): a model from a config table
-- (type, values transform, the model's own options as its module exports
-- them).
local rp = require "recpipe"

local M = {}

-- a mistake in the configuration: the message alone, no traceback
local function fail(msg) rp.config.error(msg) end

local option_names = require("recpipe.tune_data").option_names

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

return M
