-- rp.registry: the Lua side of the run and model registry (modules/registry).
--
--   local reg = rp.registry.open("runs/registry.db")
--   local run <close> = reg:begin { pipeline = "retrain", config = cfg, seed = 42,
--                                  inputs = { "events.csv.gz" } }
--   run:metrics(report)                       -- every metric of an evaluation, with intervals
--   local v = reg:register("shop", model, { report = report, run = run })
--   local ok, decision = reg:promote("shop", v, { events = ev, run = run })
--   run:finish()                              -- or an error closes the run as failed
--
-- Runs are tables {id = ..., registry = reg} with methods; an error that
-- leaves a `<close>` run variable ends the run as failed with the message.
-- Everything recorded goes through the C core (one transaction a call).
return function(rp)
  local R = rp.registry
  if not R then return end
  local methods = R._methods

  -- ---- JSON (configs and reports are stored as JSON text) -----------------------
  local function json_string(s)
    return '"' .. s:gsub('[%c"\\]', function(c)
      local map = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
      return map[c] or ("\\u%04x"):format(c:byte())
    end) .. '"'
  end

  local function is_array(t)
    local n = #t
    if n == 0 then return next(t) == nil and false end
    local count = 0
    for _ in pairs(t) do count = count + 1 end
    return count == n
  end

  -- R.json(value): JSON text of a Lua value.  Keys are sorted, so the same
  -- table gives the same text; functions, userdata and keys starting with
  -- '_' are left out; NaN and infinities become null; nesting is capped.
  local function encode(v, depth, out)
    local t = type(v)
    if t == "nil" then out[#out + 1] = "null"
    elseif t == "boolean" then out[#out + 1] = tostring(v)
    elseif t == "number" then
      if v ~= v or v == math.huge or v == -math.huge then out[#out + 1] = "null"
      elseif math.type(v) == "integer" then out[#out + 1] = tostring(v)
      else out[#out + 1] = ("%.17g"):format(v) end
    elseif t == "string" then out[#out + 1] = json_string(v)
    elseif t == "table" and depth < 32 then
      if is_array(v) then
        out[#out + 1] = "["
        for i, x in ipairs(v) do
          if i > 1 then out[#out + 1] = "," end
          encode(x, depth + 1, out)
        end
        out[#out + 1] = "]"
      else
        local keys = {}
        for k, x in pairs(v) do
          local kt, xt = type(k), type(x)
          if (kt == "string" and k:sub(1, 1) ~= "_" or kt == "number")
            and xt ~= "function" and xt ~= "userdata" and xt ~= "thread" then
            keys[#keys + 1] = k
          end
        end
        table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
        out[#out + 1] = "{"
        for i, k in ipairs(keys) do
          if i > 1 then out[#out + 1] = "," end
          out[#out + 1] = json_string(tostring(k))
          out[#out + 1] = ":"
          encode(v[k], depth + 1, out)
        end
        out[#out + 1] = "}"
      end
    else
      out[#out + 1] = "null"
    end
  end

  function R.json(v)
    local out = {}
    encode(v, 0, out)
    return table.concat(out)
  end

  local function text(v)
    if v == nil or type(v) == "string" then return v end
    return R.json(v)
  end

  -- ---- runs ---------------------------------------------------------------------
  local Run = {}
  Run.__index = Run
  R.Run = Run

  -- reg:begin{pipeline, job, config, seed, inputs} -> run
  -- When the scheduler started this process for a job (RECPIPE_RUN and
  -- RECPIPE_REGISTRY naming this registry), the first begin adopts that run.
  function methods:begin(spec)
    if type(spec) ~= "table" then
      error("bad argument #1 to 'begin' (table expected, got " .. type(spec) .. ")", 2)
    end
    local known = { pipeline = true, job = true, config = true, seed = true, inputs = true }
    for k in pairs(spec) do
      if not known[k] then
        error(("bad argument #1 to 'begin' (unknown field '%s' (known: config, inputs, job, "
          .. "pipeline, seed))"):format(tostring(k)), 2)
      end
    end
    local adopt
    local env_run, env_reg = os.getenv("RECPIPE_RUN"), os.getenv("RECPIPE_REGISTRY")
    if env_run and env_reg and not R._adopted and (env_reg == self.path or
        env_reg == self.dir .. "/" .. self.path:match("[^/]+$")) then
      adopt = math.tointeger(tonumber(env_run))
      R._adopted = true
    end
    local pipeline = spec.pipeline or (arg and arg[0]) or "script"
    local id = self:_begin { pipeline = pipeline, job = spec.job, config = text(spec.config),
                             seed = spec.seed, adopt = adopt }
    local run = setmetatable({ id = id, registry = self, pipeline = pipeline }, Run)
    for _, path in ipairs(spec.inputs or {}) do run:input(path) end
    return run
  end

  function Run:input(path) return self.registry:_input(self.id, path) end

  -- run:metric(name, value, {lo, hi, model, version})
  function Run:metric(name, value, o)
    o = o or {}
    self.registry:_metric(self.id, name, value, o.lo, o.hi, o.model, o.version)
  end

  -- run:metrics(report, {prefix, model, version}): every metric of an
  -- rp.metrics report as "<metric>@<k>" with its bootstrap interval
  function Run:metrics(report, o)
    o = o or {}
    for _, m in ipairs(report.metrics or {}) do
      local v = report[m]
      if type(v) == "number" and v == v then
        local ci = report.ci and report.ci[m]
        local name = (o.prefix or "") .. m .. ((m == "rmse" or m == "mae") and "" or ("@" .. report.k))
        self.registry:_metric(self.id, name, v, ci and ci[1], ci and ci[2], o.model, o.version)
      end
    end
  end

  -- run:log(level, fmt, ...): recorded and passed to rp.log
  function Run:log(level, fmt, ...)
    local msg = select("#", ...) > 0 and fmt:format(...) or fmt
    self.registry:_log(self.id, level, msg)
    local f = rp.log[level]
    if f then f("%s", msg) end
  end

  function Run:measure(name, value, o) return self.registry:record_measure(self, name, value, o) end
  function Run:alert(name, message, value, threshold)
    return self.registry:alert(self, name, message, value, threshold)
  end

  -- run:finish([status = "ok"[, message]])
  function Run:finish(status, message)
    if self.finished then return end
    self.registry:_end(self.id, status or "ok", message)
    self.finished = status or "ok"
  end

  function Run:__close(err)
    if self.finished then return end
    if err ~= nil then
      local msg = tostring(err)
      pcall(self.registry._end, self.registry, self.id, "failed", msg)
      self.finished = "failed"
    else
      self:finish("ok")
    end
  end

  function Run:__tostring() return ("recpipe.Run(%d, %s)"):format(self.id, self.pipeline) end

  -- ---- models ----------------------------------------------------------------------
  -- the metrics of a report as {name = {value, lo, hi}}
  local function report_metrics(report)
    if type(report) ~= "table" then return nil end
    local out = {}
    for _, m in ipairs(report.metrics or {}) do
      local v = report[m]
      if type(v) == "number" and v == v then
        local ci = report.ci and report.ci[m]
        out[m] = { v, ci and ci[1], ci and ci[2] }
      end
    end
    return out
  end
  R.report_metrics = report_metrics

  local tmp_seq = 0
  -- reg:register(name, model_or_path, {training, report, options, run, metrics})
  -- -> version.  A model object is saved (model:save) into the registry's
  -- models directory and moved into place; a path is copied.
  function methods:register(name, model, o)
    o = o or {}
    local path, move = model, false
    if type(model) ~= "string" then
      local ok, save = pcall(function() return model.save end)
      if not ok or type(save) ~= "function" then
        error("bad argument #2 to 'register' (a model file path or a model with :save expected)", 2)
      end
      tmp_seq = tmp_seq + 1
      os.execute(("mkdir -p '%s/models'"):format(self.dir:gsub("'", "'\\''")))
      path = ("%s/models/.save-%d-%d-%d.rpa"):format(self.dir, math.floor(rp.clock() * 1e6) % 1000000,
        tmp_seq, math.random(1 << 30))
      model:save(path)
      move = true
    end
    local report = o.report
    local metrics = o.metrics or report_metrics(report)
    local ok, v = pcall(self._register, self, name, path, {
      training = text(o.training), report = text(report), options = text(o.options),
      run = o.run, metrics = metrics, move = move })
    if not ok then
      if move then os.remove(path) end
      error(v, 2)
    end
    return v
  end

  -- reg:load(name[, version], {load = rp.als.load}) -> model, version, path
  -- (the live version when version is nil)
  function methods:load(name, version, o)
    o = o or {}
    local path
    if version == nil then
      version, path = self:live(name)
      if not version then error(("registry %s: '%s' has no live version"):format(self.path, name), 2) end
    else
      path = self:model_path(name, version)
    end
    local load = o.load or (rp.als and rp.als.load)
    return load(path), version, path
  end

  -- ---- the gate ------------------------------------------------------------------------
  -- A recommender that answers through recommend_all only, so
  -- rp.metrics.evaluate scores its lists by id on the test matrix's maps
  -- (a model loaded from a file has maps of its own).
  local function by_id(model)
    return { name = model.name, recommend_all = function(_, q)
      local lists = model:recommend_all { users = q.users, k = q.k }
      return lists
    end }
  end

  local function evaluate(model, train, test, g, name)
    local o = { k = g.k, metrics = { g.metric }, bootstrap = g.bootstrap, seed = g.seed,
                level = g.level, name = name }
    local ok, rep = pcall(rp.metrics.evaluate, model, train, test, o)
    if ok then return rep end
    if not tostring(rep):find("same id maps", 1, true) then error(rep, 0) end
    -- different maps: score by id; seen items excluded per the window's train
    local wrapped = by_id(model)
    wrapped.recommend_all = function(_, q)
      local items = {}
      local lists = model:recommend_all { users = q.users, k = g.k + 200 }
      for u, list in pairs(lists) do
        local seen = {}
        for _, it in ipairs(train and train:row(u) or {}) do seen[it] = true end
        local keep = {}
        for _, it in ipairs(list) do
          if not seen[it] and #keep < g.k then keep[#keep + 1] = it end
        end
        items[u] = keep
      end
      return items
    end
    return rp.metrics.evaluate(wrapped, train, test, o)
  end

  -- The window the default gate judges on: test = the last window_days of
  -- events (or o.window = {from, to}), train = everything before (seen
  -- items, excluded from the lists).  Or o.train / o.test given directly.
  local function gate_data(o, g)
    if o.test then return o.train, o.test end
    local ev = o.events
    if not ev then
      error("promote: the default gate needs events (or train and test matrices) to judge on", 3)
    end
    local from, to
    if o.window then
      from, to = o.window.from or o.window[1], o.window.to or o.window[2]
      if type(from) == "string" then from = R.parse_time(from) end
      if type(to) == "string" then to = R.parse_time(to) end
    else
      local _, tmax = ev:time_range()
      to = tmax + 1
      from = to - math.floor(g.window_days * 86400)
    end
    local test_ev = ev:where { from = math.floor(from), to = math.floor(to) }
    local train_ev = ev:where { to = math.floor(from) }
    local agg = { aggregate = o.aggregate or "sum" }
    return train_ev:to_matrix(agg), test_ev:to_matrix(agg), from, to
  end

  -- The default gate: fn(candidate, live, ctx) -> accept, reason, details
  local function default_gate(o, g)
    return function(cand_model, live_model)
      local train, test, from, to = gate_data(o, g)
      local rc = evaluate(cand_model, train, test, g, "candidate")
      local rl = evaluate(live_model, train, test, g, "live")
      local d = rp.metrics.compare(rc, rl, { metrics = { g.metric }, bootstrap = g.bootstrap,
                                            seed = g.seed, level = g.level })[g.metric]
      local accept, reason = R.gate_decide(g, d.diff, d.lo, d.hi, d.users)
      rc.window = { from = from, to = to }
      rl.window = rc.window
      return accept, reason, { candidate_report = rc, live_report = rl, diff = d.diff, lo = d.lo,
                               hi = d.hi, metric = g.metric .. "@" .. g.k }
    end
  end

  local PROMOTE_OPTS = { gate = true, reason = true, run = true, events = true, window = true,
                         train = true, test = true, aggregate = true, candidate = true, live = true,
                         load = true, options = true, force = true }

  -- reg:promote(name, version, {gate, events | train/test | window, options = gate
  --   options, candidate = model, live = model, load, reason, run, force})
  -- -> accepted, decision.  The first version of a name goes live without a
  -- gate.  gate: a function(candidate_model, live_model) -> accept, reason,
  -- {candidate_report, live_report, diff, lo, hi, metric}; nil means the
  -- default gate (ndcg@10 on the most recent window_days of `events`);
  -- false means no gate (a manual promotion, recorded with reason).
  function methods:promote(name, version, o)
    o = o or {}
    for k in pairs(o) do
      if not PROMOTE_OPTS[k] then
        local names = {}
        for n in pairs(PROMOTE_OPTS) do names[#names + 1] = n end
        table.sort(names)
        error(("bad argument #3 to 'promote' (unknown option '%s' (known: %s))"):format(
          tostring(k), table.concat(names, ", ")), 2)
      end
    end
    local live = self:live(name)
    if live == version then
      return true, { action = "none", reason = ("version %d is live already"):format(version) }
    end
    if not live then
      local reason = o.reason or "first version of the name: no gate"
      self:_decide(name, version, { action = "initial", reason = reason, run = o.run,
                                    expect_live = 0 })
      return true, { action = "initial", reason = reason, version = version }
    end
    if o.gate == false then
      local reason = o.reason or "promoted without a gate"
      self:_decide(name, version, { action = "promote", reason = reason, run = o.run,
                                    expect_live = live })
      return true, { action = "promote", reason = reason, version = version, previous = live }
    end
    local g = R.gate_options(o.options)
    local gate = o.gate or default_gate(o, g)
    local load = o.load or (rp.als and rp.als.load)
    local cand_model = o.candidate or load(self:model_path(name, version))
    local live_model = o.live or load(self:model_path(name, live))
    local accept, reason, det = gate(cand_model, live_model)
    det = det or {}
    reason = reason or (accept and "accepted by the gate" or "refused by the gate")
    if o.reason then reason = o.reason .. ": " .. reason end
    local action = accept and "promote" or "refuse"
    self:_decide(name, version, {
      action = action, reason = reason, metric = det.metric, diff = det.diff, lo = det.lo,
      hi = det.hi, candidate_report = text(det.candidate_report),
      live_report = text(det.live_report), run = o.run, expect_live = live })
    det.action, det.reason, det.version, det.previous = action, reason, version, live
    return accept and true or false, det
  end

  -- the most used tables, as methods
  function methods:runs(f) return self:list("runs", f) end
  function methods:models(name) return self:list("models", { name = name }) end
  function methods:promotions(name) return self:list("promotions", { name = name }) end
  function methods:measures(f) return self:list("measures", f) end
  function methods:alerts(f) return self:list("alerts", f) end
end
