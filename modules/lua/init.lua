-- recpipe: the package a script gets from `require "recpipe"`.
--
-- Collects the C modules the binary preloads (rp.io, rp.sparse, rp.als, ...)
-- and the pure-Lua parts that live beside this file.  A module whose
-- binding is not built into the binary is simply absent.
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

-- pure-Lua extensions: modules/lua/<name>_ext.lua returns function(rp)
-- that adds to rp (loaded in this order when present).
local exts = { "config", "io", "sparse", "split", "metrics", "baseline", "hybrid", "tune",
               "report", "registry" }
for _, name in ipairs(exts) do
  local path = core.paths.lua .. "/" .. name .. "_ext.lua"
  local f = io.open(path, "r")
  if f then
    f:close()
    local ext = require("recpipe." .. name .. "_ext")
    ext(rp)
  end
end

-- the report builder (recpipe.report) as rp.report too
rp.report = rp.report or require "recpipe.report"

return rp
