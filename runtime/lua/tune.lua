-- recpipe.tune: what the evaluate, tune, backtest and coldstart pipelines share --
-- reading the dataset a YAML config describes, splitting it, building a
-- model from a config table -- and the hyperparameter search itself.
--
--   local tune = require "recpipe.tune"
--   local d = tune.load(cfg)                  -- d.train, d.test (Matrices), d.train_ev, ...
--   local model = tune.build({ type = "als", factors = 64 }, d.train, d.train_ev)
--   local res = tune.search(cfg.search, { type = "als", iterations = 15 }, fit, val, {...})
--
-- The parts, each also loadable alone: recpipe.tune_data (configuration,
-- dataset, split, matrices), recpipe.tune_models (build), recpipe.tune_search
-- (grid, sample, search), recpipe.tune_tables (csv, markdown, write).
local M = {}
for _, part in ipairs { "tune_data", "tune_models", "tune_search", "tune_tables" } do
  for k, v in pairs(require("recpipe." .. part)) do M[k] = v end
end

return M
