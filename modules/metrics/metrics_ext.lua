-- rp.metrics.evaluate / compare / format: the report tables around the C
-- evaluation (modules/metrics).  A recommender with __recommender() (a C
-- object, or a Lua object naming one) is scored entirely in C (one recommend
-- call per batch of users, parallel inside); any other object with
-- recommend_all is asked for its lists in Lua and scored by the same C code,
-- so both give the same numbers.  Options are range-checked by the C core
-- (M._check) before any work.
return function(rp)
  local M = rp.metrics
  if not M then return end

  local ALL = M._names()
  local IS = {}
  for _, m in ipairs(ALL) do IS[m] = true end
  local PER_USER = { precision = true, recall = true, map = true, ndcg = true, hit_rate = true,
                     mrr = true, auc = true, novelty = true }
  -- "all": every ranking and catalogue metric (rmse/mae need predict: ask for them)
  M.RANKING = { "precision", "recall", "precision_pooled", "map", "ndcg", "hit_rate", "mrr",
                "auc", "coverage", "gini", "novelty" }
  M.DEFAULT = { "precision", "recall", "precision_pooled", "map", "ndcg", "hit_rate", "mrr",
                "auc", "coverage", "gini", "novelty" }
  M.ALL = ALL

  local function argerr(n, fname, msg, level)
    error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), (level or 2) + 1)
  end

  -- Calls the internal C function f; an argument error it raises ("bad
  -- argument #i to '_run' (...)") is raised again as one of argument
  -- args[i] of fname, at the caller of fname.
  local function internal(fname, args, f, ...)
    local r = table.pack(pcall(f, ...))
    if r[1] then return table.unpack(r, 2, r.n) end
    local e = r[2]
    if type(e) == "string" then
      local i, msg = e:match("bad argument #(%d+) to '[^']*' %((.*)%)$")
      if i and args[tonumber(i)] then argerr(args[tonumber(i)], fname, msg, 3) end
    end
    error(e, 0)
  end

  local function metric_list(list, fname)
    if list == nil then return M.DEFAULT end
    if list == "all" then return M.RANKING end
    if type(list) == "string" then list = { list } end
    if type(list) ~= "table" then
      argerr(4, fname, "field 'metrics' must be a list of metric names", 3)
    end
    for _, m in ipairs(list) do
      if not IS[m] then
        argerr(4, fname, ("field 'metrics': unknown metric '%s' (known: %s)")
          :format(tostring(m), table.concat(ALL, ", ")), 3)
      end
    end
    return list
  end

  -- ---- reports ------------------------------------------------------------------
  local Report = {}
  Report.__index = Report
  M.Report = Report

  -- report:values(metric) -> {user_id = value}
  function Report:values(metric) return self._eval:values(metric) end
  -- report:user_ids() -> array of the evaluated users
  function Report:user_ids() return self._eval:user_ids() end
  -- report:histogram(metric, bins, lo, hi) -> counts
  function Report:histogram(metric, bins, lo, hi) return self._eval:histogram(metric, bins, lo, hi) end
  -- report:popularity(bins) -> {train, recommended, mean_recommended, mean_catalogue}
  function Report:popularity(bins) return self._eval:popularity(bins) end
  -- report:per_user_dense(metrics) -> Dense users x metrics
  function Report:per_user_dense(metrics) return self._eval:per_user(metrics) end

  local function fmtnum(v)
    if v == nil then return "-" end
    return ("%.4f"):format(v)
  end

  -- one line per metric: "ndcg@10  0.2557  [0.2401, 0.2712]"
  function Report:__tostring()
    local lines = { ("%s: %d users, k = %d"):format(self.model or "evaluation", self.users,
      self.k) }
    for _, m in ipairs(self.metrics) do
      local ci = self.ci and self.ci[m]
      local label = (m == "rmse" or m == "mae") and m or (m .. "@" .. self.k)
      lines[#lines + 1] = ("  %-20s %s%s"):format(label, fmtnum(self[m]),
        ci and ("  [%s, %s]"):format(fmtnum(ci[1]), fmtnum(ci[2])) or "")
    end
    return table.concat(lines, "\n")
  end

  local function name_of(rec)
    local ok, n = pcall(function() return rec.name end)
    if ok and type(n) == "string" then return n end
    return tostring(rec):match("^([%w%.]+)") or "recommender"
  end

  local function recommender_fn(rec)
    local ok, f = pcall(function() return rec.__recommender end)
    if ok and type(f) == "function" then return f end
    return nil
  end

  -- predictions per user in the order of the user's test row (Lua path)
  local function lua_predictions(rec, test, users)
    local preds = {}
    for _, u in ipairs(users) do
      local items = test:row(u)
      local p = {}
      for j, it in ipairs(items or {}) do p[j] = rec:predict(u, it) or 0 end
      preds[u] = p
    end
    return preds
  end

  -- rp.metrics.evaluate(recommender, train, test, {k = 10, metrics = {...}, users = ids,
  --   per_user = false, bootstrap = B, seed = 42, level = 0.95, curve = false,
  --   threshold = 0, exclude = true, threads = 0, name = "als"}) -> report
  function M.evaluate(rec, train, test, opts)
    local fname = "evaluate"
    -- names, defaults and ranges: the C core's (rp.metrics.options "evaluate")
    local o = internal(fname, { 4 }, M._check, opts)
    opts = opts or {}
    if train ~= nil and not tostring(train):match("^recpipe%.Matrix") then
      argerr(2, fname, "train must be a recpipe.Matrix or nil, got " .. type(train))
    end
    if not tostring(test):match("^recpipe%.Matrix") then
      argerr(3, fname, "test must be a recpipe.Matrix, got " .. type(test))
    end
    local k = o.k
    local metrics = metric_list(opts.metrics, fname)
    local ratings = false
    for _, m in ipairs(metrics) do ratings = ratings or m == "rmse" or m == "mae" end
    local B = o.bootstrap
    local level = o.level
    if opts.users ~= nil and type(opts.users) ~= "table" then
      argerr(4, fname, "field 'users' must be a list of user ids")
    end
    local copts = { k = k, curve = o.curve, threads = o.threads, threshold = o.threshold,
                    exclude = o.exclude, batch = o.batch }
    local t0 = rp.clock()
    local ev, lua_trec
    local f = recommender_fn(rec)
    if f then
      ev = internal(fname, { 1, 2, 3, 4, 4 }, M._run, rec, train, test, copts, opts.users, ratings)
    else
      local ok, ra = pcall(function() return rec.recommend_all end)
      if not ok or type(ra) ~= "function" then
        argerr(1, fname, "a recommender (an object with __recommender or recommend_all) expected, got "
          .. type(rec))
      end
      local users = internal(fname, { 2, 3, 4, 4 }, M._users, train, test, copts, opts.users)
      local t1 = rp.clock()
      local lists = rec:recommend_all { users = users, k = k,
                                        exclude = o.exclude and train or false }
      if type(lists) ~= "table" then
        error("recommend_all must return a table of item lists keyed by user id", 2)
      end
      local preds
      if ratings then
        local okp, pf = pcall(function() return rec.predict end)
        if not okp or type(pf) ~= "function" then
          argerr(1, fname, "rmse and mae need a recommender with predict(user, item)")
        end
        preds = lua_predictions(rec, test, users)
      end
      lua_trec = rp.clock() - t1
      ev = M._from_lists(train, test, users, lists, copts, preds)
    end
    local s = ev:summary()
    local report = setmetatable({}, Report)
    rawset(report, "_eval", ev)
    report.model = opts.name or name_of(rec)
    report.k, report.users, report.catalogue = k, s.users, s.catalogue
    report.unknown_users, report.short_lists, report.train_users = s.unknown_users,
      s.short_lists, s.train_users
    report.metrics = {}
    for _, m in ipairs(metrics) do
      report.metrics[#report.metrics + 1] = m
      report[m] = s[m]
    end
    if B then
      local ci = ev:bootstrap(B, o.seed, level, o.threads)
      report.ci, report.bootstrap, report.level = {}, B, level
      for _, m in ipairs(metrics) do report.ci[m] = ci[m] end
    end
    if o.curve then
      local c = ev:curve()
      report.curve = {}
      for _, m in ipairs(metrics) do report.curve[m] = c[m] end
    end
    if o.per_user then
      local pm = {}
      for _, m in ipairs(metrics) do if PER_USER[m] then pm[#pm + 1] = m end end
      if #pm > 0 then
        report.per_user = ev:per_user(pm)
        report.per_user_metrics = pm
      end
    end
    report.seconds = rp.clock() - t0
    report.seconds_metrics = s.seconds_metrics
    report.seconds_recommend = lua_trec or s.seconds_recommend
    report.users_per_second = report.seconds > 0 and s.users / report.seconds or nil
    return report
  end

  -- rp.metrics.compare(report_a, report_b, {metrics, bootstrap = 1000, seed = 42,
  --   level = 0.95}) -> {metric = {a, b, diff, lo, hi, p, wins, losses, ties, users}}
  -- Paired on the users both reports evaluated.
  function M.compare(a, b, opts)
    local fname = "compare"
    for i, r in ipairs { a, b } do
      if getmetatable(r) ~= Report then argerr(i, fname, "a report from rp.metrics.evaluate expected") end
    end
    local o = internal(fname, { 3 }, M._check_compare, opts)
    opts = opts or {}
    local metrics = opts.metrics and metric_list(opts.metrics, fname) or a.metrics
    local list = {}
    for _, m in ipairs(metrics) do
      local rating = m == "rmse" or m == "mae"
      if m ~= "coverage" and m ~= "gini" and (not rating or (a[m] ~= nil and b[m] ~= nil)) then
        list[#list + 1] = m
      end
    end
    local out = { _order = list }
    if #list > 0 then
      local res = a._eval:compare(b._eval, list, o.bootstrap, o.seed, o.level, o.threads)
      for _, m in ipairs(list) do out[m] = res[m] end
    end
    return setmetatable(out, { __tostring = function(t)
      local lines = { ("%s vs %s (paired, %s users)"):format(a.model, b.model,
        t[t._order[1]] and t[t._order[1]].users or 0) }
      for _, m in ipairs(t._order) do
        local d = t[m]
        local p = d.p or 1
        lines[#lines + 1] = ("  %-18s %s - %s = %+.4f  [%+.4f, %+.4f]  p%s"):format(m,
          fmtnum(d.a), fmtnum(d.b), d.diff or 0, d.lo or 0, d.hi or 0,
          p < 0.001 and "<0.001" or ("=%.3f"):format(p))
      end
      return table.concat(lines, "\n")
    end })
  end

  -- rp.metrics.format(reports, {metrics}) -> a text table, one column per
  -- report ("0.2557 ±0.0155" when the report has intervals).
  function M.format(reports, opts)
    opts = opts or {}
    local metrics = opts.metrics or (reports[1] and reports[1].metrics) or {}
    local head = { ("%-18s"):format("metric@" .. (reports[1] and reports[1].k or "")) }
    for _, r in ipairs(reports) do
      head[#head + 1] = ("%-22s"):format(r.model or "?")
    end
    local lines = { table.concat(head, " ") }
    for _, m in ipairs(metrics) do
      local row = { ("%-18s"):format(m) }
      for _, r in ipairs(reports) do
        local v, ci = r[m], r.ci and r.ci[m]
        local cell = fmtnum(v)
        if ci then cell = cell .. (" [%.4f,%.4f]"):format(ci[1], ci[2]) end
        row[#row + 1] = ("%-22s"):format(cell)
      end
      lines[#lines + 1] = table.concat(row, " ")
    end
    return table.concat(lines, "\n")
  end
end
