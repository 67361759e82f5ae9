-- recpipe: the package a script gets from `require "recpipe"`.
--
-- Collects the C modules the binary preloads (rp.io, rp.sparse, rp.als, ...)
-- and their pure-Lua extensions.  A module whose binding is not built into
-- the binary is simply absent, and so is its extension.
local core = require "recpipe.core"

local rp = {
  version = core.version,
  paths = core.paths,
  memory = core.memory,
  reset_peak = core.reset_peak,
  clock = core.clock,
  cores = core.cores,
  _fail_alloc = core._fail_alloc,
  log = require "recpipe.log",
  config = require "recpipe.config",
}

local modules = { "io", "sparse", "gen", "als", "split", "metrics", "baseline",
                  "hybrid", "cache", "serve", "registry", "monitor", "dist" }
for _, name in ipairs(modules) do
  if package.preload["recpipe." .. name] then
    rp[name] = require("recpipe." .. name)
  end
end

-- pure-Lua extensions, each a file <name>_ext.lua returning function(rp)
-- that adds to rp, loaded in this order: the runtime's own (config_ext.lua,
-- beside this file), then each module's (modules/<m>/<m>_ext.lua beside its
-- binding), only when the module is built in.
require("recpipe.config_ext")(rp)
local exts = { "io", "split", "metrics", "hybrid", "registry" }
for _, name in ipairs(exts) do
  if rp[name] then require("recpipe." .. name .. "_ext")(rp) end
end

-- the report builder (recpipe.report) as rp.report too
rp.report = rp.report or require "recpipe.report"

return rp
