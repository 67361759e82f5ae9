-- Pure-Lua helpers of rp.config: merging defaults, reading a pipeline's
-- arguments the same way whether it runs from a script or a YAML config.
return function(rp)
  local config = rp.config

  -- Deep copy of defaults overlaid with cfg (cfg wins; tables merge).
  function config.merge(defaults, cfg)
    local out = {}
    for k, v in pairs(defaults or {}) do
      out[k] = type(v) == "table" and config.merge(v, {}) or v
    end
    for k, v in pairs(cfg or {}) do
      if type(v) == "table" and type(out[k]) == "table" and #v == 0 and next(v) ~= nil then
        out[k] = config.merge(out[k], v)
      else
        out[k] = v
      end
    end
    return out
  end

  -- config.args(defaults, ...): the pipeline's configuration.
  -- Called from a pipeline with its varargs: a table (YAML run) is merged
  -- over defaults; strings are "key=value" overrides (dotted keys nest), a
  -- string ending in .yaml/.yml is loaded as a config file, and any other
  -- string fills defaults.positional in order (e.g. an input path).
  function config.args(defaults, ...)
    local cfg = config.merge(defaults, {})
    local n = select("#", ...)
    local first = ...
    if n == 1 and type(first) == "table" then
      return config.merge(cfg, first)
    end
    local positional = defaults and defaults.positional or {}
    local p = 1
    for i = 1, n do
      local a = select(i, ...)
      if type(a) ~= "string" then
        error(("bad argument #%d: expected a string, got %s"):format(i, type(a)), 2)
      end
      if a:find("=", 1, true) and not a:find("^[/.]") then
        config.override(cfg, a)
      elseif a:match("%.ya?ml$") then
        cfg = config.merge(cfg, config.load(a))
      else
        local key = positional[p]
        if not key then
          error(("unexpected argument '%s' (expected key=value)"):format(a), 2)
        end
        cfg[key] = a
        p = p + 1
      end
    end
    cfg.positional = nil
    return cfg
  end
end
