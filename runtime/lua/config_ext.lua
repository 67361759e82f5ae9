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

  -- config.check(cfg, schema[, where]): refuses every key of cfg the
  -- schema does not name, listing the known ones and naming the config file
  -- (cfg._config_file; else `where`).  A schema maps each known key to true
  -- (any value) or to the schema of its table; `pipeline` and keys starting
  -- with "_" are the host's at the top level.  The error is a config error
  -- (rp.config.error: the message alone, no traceback).  A schema's ["*"] is the
  -- schema of each element of a list.
  function config.check(cfg, schema, where)
    local file = cfg._config_file or where or "config"
    local function walk(t, s, path)
      if s == true or type(t) ~= "table" or type(s) ~= "table" then return end
      for k, v in pairs(t) do
        local host = path == "" and (k == "pipeline" or (type(k) == "string" and k:sub(1, 1) == "_"))
        if type(k) ~= "string" then
          if s["*"] ~= nil then walk(v, s["*"], ("%s[%s]."):format(path:sub(1, -2), tostring(k))) end
        elseif not host then
          if s[k] == nil then
            local names = {}
            for n in pairs(s) do if n ~= "*" then names[#names + 1] = n end end
            table.sort(names)
            config.error(("unknown key '%s%s' (known%s: %s)"):format(path, k,
              path ~= "" and " under " .. path:sub(1, -2) or "", table.concat(names, ", ")), file)
          end
          if type(s[k]) == "table" and type(v) ~= "table" and v ~= false then
            local names = {}
            for n in pairs(s[k]) do if n ~= "*" then names[#names + 1] = n end end
            table.sort(names)
            config.error(("'%s%s' must be a table%s, got %s"):format(path, k,
              #names > 0 and " (keys: " .. table.concat(names, ", ") .. ")" or "", type(v)), file)
          end
          walk(v, s[k], path .. k .. ".")
        end
      end
    end
    walk(cfg, schema, "")
    return cfg
  end

  -- config.keys{"a", "b"} -> {a = true, b = true}: a schema of plain keys
  function config.keys(list, more)
    local t = {}
    for _, k in ipairs(list) do t[k] = true end
    for k, v in pairs(more or {}) do t[k] = v end
    return t
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
      local out = config.merge(cfg, first)
      out.positional = nil
      return out
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
