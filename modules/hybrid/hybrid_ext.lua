-- Pure-Lua parts of rp.hybrid: fallback chains, blends (the single-request
-- path and blends of Lua objects), fold-in of new users through an ALS
-- model's recommend_new.
--
-- Every object here follows the recommender protocol: recommend(user, opts)
-- -> items, scores (chains add a reason code), recommend_all(opts) -> two
-- tables keyed by user id; blends of C objects also have __recommender(),
-- which names the C blend (a recpipe.Hybrid holding its sources).
return function(rp)
  local hybrid = rp.hybrid
  if not hybrid then return end

  local function is_hybrid(rec)
    local mt = getmetatable(rec)
    return type(mt) == "table" and mt.__name == "recpipe.Hybrid"
  end

  -- Does rec take `history` / `values` in recommend options?
  local function accepts_history(rec)
    if is_hybrid(rec) then return true end
    local ok, v = pcall(function() return rec.accepts_history end)
    return ok and v == true
  end

  local function field(rec, name)
    local ok, v = pcall(function() return rec[name] end)
    if ok then return v end
  end

  -- The reason code a recommender answers with when its rule has no label.
  local function reason_of(rec, i)
    local r = field(rec, "reason")
    if type(r) == "string" then return r end
    local s = tostring(rec):lower()
    if s:find("als", 1, true) then return "cf" end
    if s:find("popularity", 1, true) then return "popularity" end
    return "rule" .. i
  end

  local function check_rec(rec, what)
    if field(rec, "recommend") == nil then
      error(("%s: expected a recommender (an object with recommend), got %s"):format(
        what, tostring(rec)), 3)
    end
  end

  -- The options passed on to a recommender: the protocol's, plus history
  -- and values for those that take them.
  local function pass(rec, opts, k)
    local o = { k = k or opts.k, exclude = opts.exclude, items = opts.items, deny = opts.deny }
    if accepts_history(rec) then
      o.history, o.values, o.attributes = opts.history, opts.values, opts.attributes
    end
    return o
  end

  local function all_users(opts, ...)
    if opts.users then return opts.users end
    for i = 1, select("#", ...) do
      local m = select(i, ...)
      if m then
        local users = field(m, "users")
        if users then return users:ids() end
      end
    end
    error("recommend_all: no users given and no user map to take them from", 3)
  end

  -- Runs recommend_all of rec for users (or recommend per user when it has
  -- no recommend_all).
  local function batch(rec, users, k, exclude)
    if field(rec, "recommend_all") then
      return rec:recommend_all { users = users, k = k, exclude = exclude }
    end
    local items, scores = {}, {}
    for _, u in ipairs(users) do
      local it, sc = rec:recommend(u, { k = k, exclude = exclude })
      if it then items[u], scores[u] = it, sc end
    end
    return items, scores
  end

  ---------------------------------------------------------------------------
  -- chain
  ---------------------------------------------------------------------------
  local Chain = { reason = "chain", accepts_history = true }
  Chain.__index = Chain
  Chain.__name = "recpipe.Chain"
  function Chain.__tostring(c) return ("recpipe.Chain(%d rules)"):format(#c.rules) end

  -- hybrid.chain{ {when = fn(ctx), use = rec, label = "..."}, ..., {use = fallback},
  --               train = matrix, attributes = user_features }
  function hybrid.chain(spec)
    if type(spec) ~= "table" then
      error("bad argument #1 to 'chain' (table of rules expected)", 2)
    end
    local known = { train = true, attributes = true }
    for key in pairs(spec) do
      if type(key) ~= "number" and not known[key] then
        error(("bad argument #1 to 'chain' (unknown option '%s' (known: train, attributes))")
          :format(tostring(key)), 2)
      end
    end
    if #spec == 0 then error("bad argument #1 to 'chain' (at least one rule expected)", 2) end
    local rules = {}
    for i, r in ipairs(spec) do
      if type(r) ~= "table" then
        error(("bad argument #1 to 'chain' (rule %d must be a table)"):format(i), 2)
      end
      if r.when ~= nil and type(r.when) ~= "function" then
        error(("bad argument #1 to 'chain' (rule %d: 'when' must be a function)"):format(i), 2)
      end
      check_rec(r.use, ("chain rule %d: 'use'"):format(i))
      rules[i] = { when = r.when, use = r.use, label = r.label or reason_of(r.use, i) }
    end
    return setmetatable({ rules = rules, train = spec.train, attributes = spec.attributes },
      Chain)
  end

  -- The context a rule sees for user u.
  function Chain:context(u, opts)
    opts = opts or {}
    local n_train = self.train and hybrid.history_count(self.train, u) or 0
    local n = n_train
    if n == 0 then
      if opts.history then
        n = #opts.history
      elseif opts.exclude then
        n = hybrid.history_count(opts.exclude, u)
      end
    end
    -- the attribute file's, else the request's (a visitor who says their age
    -- band; or a user on the map the file has no row for: no attributes)
    local attrs = self.attributes and self.attributes:attributes(u) or nil
    if attrs and next(attrs) == nil then attrs = nil end
    return { user = u, n = n, known = n_train > 0, attributes = attrs or opts.attributes or {},
             context = opts.context or {} }
  end

  -- The index of the first rule that answers user u (the one recommend
  -- tries first), for a server that scores that rule's recommender itself
  -- and asks recommend only when it has nothing.
  function Chain:_route(u, opts)
    return self:_match(self:context(u, opts or {}), 1)
  end

  -- First rule from index `from` whose when(ctx) holds.
  function Chain:_match(ctx, from)
    for i = from or 1, #self.rules do
      local r = self.rules[i]
      if r.when == nil or r.when(ctx) then return i end
    end
  end

  -- The options the rules get: `exclude` defaults to the chain's train
  -- matrix, so a user's seen items never come back whichever rule answers
  -- (hybrid rules always leave the history out, an ALS model only what
  -- `exclude` names); `exclude = false` keeps them.
  local function rule_opts(self, opts)
    if opts.exclude ~= nil and opts.exclude ~= false then return opts end
    local o = {}
    for key, v in pairs(opts) do o[key] = v end
    if opts.exclude == nil then o.exclude = self.train else o.exclude = nil end
    return o
  end

  -- chain:recommend(user, {k, exclude, items, deny, history, values, attributes, context})
  -- -> items, scores, reason (nil, message when no rule answers)
  function Chain:recommend(u, opts)
    opts = opts or {}
    local ctx = self:context(u, opts)
    opts = rule_opts(self, opts)
    local i = self:_match(ctx, 1)
    while i do
      local r = self.rules[i]
      local items, scores = r.use:recommend(u, pass(r.use, opts))
      if items and #items > 0 then return items, scores, r.label end
      i = self:_match(ctx, i + 1)
    end
    return nil, ("no rule of the chain answered for user '%s'"):format(tostring(u))
  end

  -- chain:recommend_all{users, k, exclude, context} -> items, scores, reasons
  -- (tables keyed by user id).  Users are grouped by their first matching
  -- rule and each group goes through that recommender's recommend_all; a
  -- user it cannot answer moves on to its next matching rule.
  function Chain:recommend_all(opts)
    opts = opts or {}
    local k = opts.k or 10
    local users = all_users(opts, self.train, opts.exclude or nil)
    local ctxs, pending = {}, {}
    for _, u in ipairs(users) do
      local ctx = self:context(u, opts)
      ctxs[u] = ctx
      local i = self:_match(ctx, 1)
      if i then
        pending[i] = pending[i] or {}
        table.insert(pending[i], u)
      end
    end
    local items, scores, reasons = {}, {}, {}
    for i = 1, #self.rules do
      local group = pending[i]
      if group then
        local r = self.rules[i]
        local it, sc = batch(r.use, group, k, rule_opts(self, opts).exclude)
        for _, u in ipairs(group) do
          if it[u] and #it[u] > 0 then
            items[u], scores[u], reasons[u] = it[u], sc[u], r.label
          else
            local j = self:_match(ctxs[u], i + 1)
            if j then
              pending[j] = pending[j] or {}
              table.insert(pending[j], u)
            end
          end
        end
      end
    end
    return items, scores, reasons
  end

  ---------------------------------------------------------------------------
  -- blend
  ---------------------------------------------------------------------------
  local Blend = { reason = "blend", accepts_history = true }
  Blend.__index = Blend
  Blend.__name = "recpipe.Blend"
  function Blend.__tostring(b) return ("recpipe.Blend(%d sources, %s)"):format(#b.sources,
      b.normalize) end

  local norms = { rank = true, zscore = true, none = true }

  -- hybrid.blend{ {rec_a, 0.7}, {rec_b, 0.3}, normalize = "rank"|"zscore"|"none",
  --               depth = 100 }
  function hybrid.blend(spec)
    if type(spec) ~= "table" or #spec == 0 then
      error("bad argument #1 to 'blend' (a list of {recommender, weight} expected)", 2)
    end
    for key in pairs(spec) do
      if type(key) ~= "number" and key ~= "normalize" and key ~= "depth" then
        error(("bad argument #1 to 'blend' (unknown option '%s' (known: normalize, depth))")
          :format(tostring(key)), 2)
      end
    end
    local normalize = spec.normalize or "rank"
    if not norms[normalize] then
      error(("bad argument #1 to 'blend' (field 'normalize' must be one of 'rank', 'zscore', "
        .. "'none', got '%s')"):format(tostring(normalize)), 2)
    end
    local depth = spec.depth or 100
    if math.type(depth) ~= "integer" or depth < 1 or depth > hybrid._max_depth then
      error(("bad argument #1 to 'blend' (field 'depth' must be an integer in 1..%d, got %s)")
        :format(hybrid._max_depth, tostring(depth)), 2)
    end
    local sources, weights, all_c = {}, {}, true
    for i, e in ipairs(spec) do
      local rec, w = e[1], e[2] or 1
      check_rec(rec, ("blend source %d"):format(i))
      if type(w) ~= "number" or w < 0 or w ~= w then
        error(("bad argument #1 to 'blend' (weight of source %d must be a non-negative number)")
          :format(i), 2)
      end
      sources[i], weights[i] = rec, w
      if field(rec, "__recommender") == nil then all_c = false end
    end
    local self = setmetatable({ sources = sources, weights = weights, normalize = normalize,
                                depth = depth }, Blend)
    if all_c then
      self._c = hybrid._blend(sources, weights, normalize, depth)
      self.__recommender = function(b) return b._c:__recommender() end
      self.items = self._c.items
    end
    return self
  end

  -- Normalised values of one list and the value of items it lacks (as blend.c).
  local function normalise(mode, scores, depth)
    local m, val = #scores, {}
    if m == 0 then return val, 0 end
    if mode == "rank" then
      for j = 1, m do val[j] = 1 - (j - 1) / depth end
      return val, 0
    end
    local lo = scores[1]
    for j = 2, m do if scores[j] < lo then lo = scores[j] end end
    if mode == "none" then
      for j = 1, m do val[j] = scores[j] end
      return val, lo
    end
    local mean, var = 0, 0
    for j = 1, m do mean = mean + scores[j] end
    mean = mean / m
    for j = 1, m do var = var + (scores[j] - mean) ^ 2 end
    local sd = math.sqrt(var / m)
    for j = 1, m do val[j] = sd > 0 and (scores[j] - mean) / sd or 0 end
    return val, sd > 0 and (lo - mean) / sd or 0
  end

  -- blend:recommend(user, opts) -> items, scores: each source's recommend
  -- with k = max(depth, k), merged as blend.c merges.
  function Blend:recommend(u, opts)
    opts = opts or {}
    local k = opts.k or 10
    local depth = math.max(self.depth, k)
    local acc, order, base = {}, {}, 0
    for s, rec in ipairs(self.sources) do
      local items, scores = rec:recommend(u, pass(rec, opts, depth))
      local w = self.weights[s]
      if items then
        local val, absent = normalise(self.normalize, scores, depth)
        base = base + w * absent
        for j, it in ipairs(items) do
          if acc[it] == nil then
            acc[it] = 0
            order[#order + 1] = it
          end
          acc[it] = acc[it] + w * (val[j] - absent)
        end
      end
    end
    if #order == 0 then
      return nil, ("blend: no source answered for user '%s'"):format(tostring(u))
    end
    local map = self.items
    local idx = {}
    for _, it in ipairs(order) do
      acc[it] = base + acc[it]
      idx[it] = map and map:index(it) or 0
    end
    table.sort(order, function(a, b)
      local fa, fb = acc[a], acc[b]
      if fa ~= fb then return fa > fb end
      if idx[a] ~= idx[b] then return idx[a] < idx[b] end
      return a < b
    end)
    local items, scores = {}, {}
    for j = 1, math.min(k, #order) do items[j], scores[j] = order[j], acc[order[j]] end
    return items, scores
  end

  -- blend:recommend_all{users, k, exclude}: the C path when every source has
  -- one, else per user through Lua.
  function Blend:recommend_all(opts)
    opts = opts or {}
    if self._c then return self._c:recommend_all(opts) end
    local users = all_users(opts, opts.exclude, self.sources[1])
    local items, scores = {}, {}
    for _, u in ipairs(users) do
      local it, sc = self:recommend(u, { k = opts.k, exclude = opts.exclude })
      if it and #it > 0 then items[u], scores[u] = it, sc end
    end
    return items, scores
  end

  ---------------------------------------------------------------------------
  -- tune_chain: the validation folds and the parts are made here; the
  -- options, the scoring, the search and the intervals are the C core's
  -- (chaintune.c).
  ---------------------------------------------------------------------------
  local function structure(e) return e:to_matrix():binarize() end

  -- Validation folds of the training events.  cold: fold f holds out the
  -- f-th of `folds` parts of the training users (rp.split.cold_users), one
  -- case per reveal size; time: `folds` successive windows covering the
  -- last test_fraction of the log, fold f training on everything before
  -- its window (users and items new in a window are dropped, as by_time
  -- does).
  local function validation_folds(train, o)
    local folds = {}
    if o.cases == "cold" then
      for f = 1, o.folds do
        local tr, cases = rp.split.cold_users(train, { folds = o.folds, fold = f,
          reveal = o.reveal, seed = o.seed, min_events = o.min_events })
        local list = {}
        for i, c in ipairs(cases) do
          list[i] = { fold = f, reveal = c.reveal, known = c.known, test = c.test }
        end
        folds[f] = { train = tr, cases = list }
      end
      return folds
    end
    local cut = {}
    for f = 1, o.folds do
      local _, _, s = rp.split.by_time(train, { test_fraction = o.test_fraction
        * (o.folds - f + 1) / o.folds })
      cut[f] = s.cutoff
    end
    for f = 1, o.folds do
      local tr, te = rp.split.by_time(train, { cutoff = cut[f] })
      if f < o.folds then te = rp.split.time_range(te, { to = cut[f + 1] }) end
      folds[f] = { train = tr, cases = { { fold = f, known = tr, test = te } } }
    end
    return folds
  end

  local function band_label(b)
    if b.hi == nil then return b.lo .. "+" end
    if b.hi == b.lo then return tostring(b.lo) end
    return b.lo .. "-" .. b.hi
  end

  -- "segment" or "item_knn 0.50 + segment 0.25 + popularity 0.25" (part order)
  local function rule_text(cand, names)
    if cand.parts == 1 then return next(cand.weights) end
    local t = {}
    for _, name in ipairs(names) do
      local w = cand.weights[name]
      if w then t[#t + 1] = ("%s %.2f"):format(name, w) end
    end
    return table.concat(t, " + ")
  end

  -- hybrid.tuned_chain(report, recs, {train, attributes}) -> the chain of a
  -- tune_chain report built from recommenders by part name (the parts of
  -- another training set, or of another request time); the options are
  -- chain's.
  function hybrid.tuned_chain(report, recs, opts)
    if type(report) ~= "table" or type(report.bands) ~= "table" then
      error("bad argument #1 to 'tuned_chain' (a tune_chain report expected)", 2)
    end
    if type(recs) ~= "table" then
      error("bad argument #2 to 'tuned_chain' (table of recommenders by part name expected)", 2)
    end
    local function rec_of(name)
      local r = recs[name]
      if not r then
        error(("tuned_chain: no recommender for part '%s'"):format(name), 3)
      end
      return r
    end
    local rules = {}
    for _, band in ipairs(report.bands) do
      local src = band.from and report.bands[band.from] or band
      local c, use = src.chosen, nil
      if c.parts == 1 then
        use = rec_of((next(c.weights)))
      else
        local spec = { normalize = report.options.normalize, depth = report.options.depth }
        for _, name in ipairs(report.parts) do
          if c.weights[name] then spec[#spec + 1] = { rec_of(name), c.weights[name] } end
        end
        use = hybrid.blend(spec)
      end
      local lo, hi = band.lo, band.hi
      rules[#rules + 1] = { when = function(ctx) return ctx.n >= lo and (hi == nil or ctx.n <= hi) end,
                            use = use, label = band.label .. ":" .. (c.parts == 1 and
                              next(c.weights) or "blend") }
    end
    if report.fallback then
      rules[#rules + 1] = { use = rec_of(report.fallback), label = "fallback" }
    end
    for key, v in pairs(opts or {}) do rules[key] = v end -- chain's own (train, attributes)
    return hybrid.chain(rules)
  end

  -- hybrid.tune_chain(parts, train, cases, opts) -> chain, report
  --   parts: {name = function(train_events, case, memo) -> recommender or nil}
  --   cases: "cold" (new users: held-out training users) or "time" (later windows)
  function hybrid.tune_chain(parts, train, cases, opts)
    if type(parts) ~= "table" then
      error("bad argument #1 to 'tune_chain' (table of part builders by name expected)", 2)
    end
    local names = {}
    for name, b in pairs(parts) do
      if type(name) ~= "string" or type(b) ~= "function" then
        error(("bad argument #1 to 'tune_chain' (entry '%s' must be a function(train, case, "
          .. "memo) returning a recommender)"):format(tostring(name)), 2)
      end
      names[#names + 1] = name
    end
    table.sort(names)
    local tune_chain = hybrid._tuner -- (named so its errors read "bad argument #n to 'tune_chain'")
    local tuner = tune_chain(names, train, cases, opts) -- checks train, cases and every option
    local o = tuner:options()
    local t0 = rp.clock()
    local folds = validation_folds(train, o)
    local seconds = { split = rp.clock() - t0, parts = 0 }
    for f, F in ipairs(folds) do
      local memo = {}
      local known = o.cases == "time" and structure(F.train) or nil
      for _, case in ipairs(F.cases) do
        local tb, recs = rp.clock(), {}
        for i, name in ipairs(names) do
          local r = parts[name](F.train, case, memo)
          if r and field(r, "__recommender") == nil then
            error(("tune_chain: part '%s' built %s, not a recommender scored in C (one with "
              .. "__recommender: rp.als, rp.baseline, rp.hybrid objects and their blends)")
              :format(name, tostring(r)), 2)
          end
          recs[i] = r or false
        end
        seconds.parts = seconds.parts + rp.clock() - tb
        tuner:add(f, recs, known or structure(case.known), structure(case.test))
      end
    end
    local res = tuner:run()
    seconds.scoring, seconds.search = res.seconds_scoring, res.seconds_search
    local report = { parts = names, options = o, cases = o.cases, bands = res.bands,
                     fallback = res.fallback, rows = res.rows, users = res.users,
                     seconds = seconds }
    for _, b in ipairs(report.bands) do
      b.label = band_label(b)
      local src = b.from and report.bands[b.from] or b
      b.rule = rule_text(src.chosen, names)
      if b.runner_up then b.runner_up.rule = rule_text(b.runner_up, names) end
      if b.best then b.best.rule = rule_text(b.best, names) end
    end
    local memo, recs = {}, {}
    for _, name in ipairs(names) do recs[name] = parts[name](train, nil, memo) end
    local tm = structure(train)
    local chain = hybrid.tuned_chain(report, recs, { train = tm })
    seconds.total = rp.clock() - t0
    return chain, report
  end

  -- hybrid.tuning_summary(report) -> Markdown lines: what was searched,
  -- and per band the rule, its validation score and the runner-up.
  function hybrid.tuning_summary(report)
    local o, s = report.options, report.seconds
    local m = ("%s@%d"):format(o.metric, o.k)
    local lines = {}
    lines[1] = ("tuned on %d validation rows of %d users (%s cases, %d folds%s), %s; "
      .. "search %s (weights in steps of 1/%d, at most %d parts), selection %s; %.1f s "
      .. "(splits %.1f, parts %.1f, scoring %.1f, search %.1f)"):format(report.rows,
      report.users, report.cases, o.folds, report.cases == "cold"
        and ", reveal " .. table.concat(o.reveal, ",") or "", m, o.search, o.steps,
      o.max_parts, o.select, s.total or 0, s.split, s.parts, s.scoring, s.search)
    lines[#lines + 1] = ""
    lines[#lines + 1] = ("| history | rows | rule | validation %s [95%% CI] | tried | runner-up | "
      .. "runner-up − rule [95%% CI] |"):format(m)
    lines[#lines + 1] = "|---|---|---|---|---|---|---|"
    for _, b in ipairs(report.bands) do
      if b.from then
        lines[#lines + 1] = ("| %s | 0 | %s (band %s's) | | | | |"):format(b.label, b.rule,
          report.bands[b.from].label)
      else
        local c, ru = b.chosen, b.runner_up
        lines[#lines + 1] = ("| %s | %d | %s | %.4f [%.4f, %.4f] | %d %s | %s | %s |"):format(
          b.label, b.rows, b.rule, c.score, c.lo, c.hi, #b.candidates, b.search,
          ru and ru.rule or "", ru and ("%+.4f [%+.4f, %+.4f]"):format(ru.diff, ru.diff_lo,
            ru.diff_hi) or "")
      end
    end
    if report.fallback then
      lines[#lines + 1] = ""
      lines[#lines + 1] = ("fallback (a rule's part with nothing to say): %s"):format(
        report.fallback)
    end
    return lines
  end
end
