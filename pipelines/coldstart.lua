-- coldstart.lua: how well each cold-start strategy serves new users (per
-- number of interactions revealed) and new items, with bootstrap intervals.
--
--   recpipe run examples/coldstart_ml100k.yaml     (MovieLens 100K: genres, age/gender/occupation)
--   recpipe run examples/coldstart_mlsmall.yaml    (MovieLens latest-small: genres and tags)
--   recpipe run examples/coldstart.yaml            (the generated shop log)
--
-- New users.  rp.split.cold_users holds whole users out of training; for
-- each reveal size n their n oldest interactions are known when the
-- recommendation is made and the rest is the test set.  With split.folds
-- = F the users are cut into F folds, each fold is held out once (models
-- retrained per fold) and the metrics are pooled over all users, so every
-- user counts once and the intervals are as tight as the data allows.
-- New items.  rp.split.cold_items holds items out; every strategy ranks
-- only the held-out items for the users who later took them (recall@k
-- among the cold items).
--
-- Config (YAML or key=value; defaults below):
--   data:             path, read (rp.io.read_events options)
--   item_attributes:  a list of {path, options (rp.hybrid.attributes), weight}
--                     combined into one feature matrix (L2-normalised)
--   user_attributes:  {path, options}
--   split:            folds (or fraction), reveal, seed, min_events
--   matrix:           aggregate, values (raw | binary) of the training matrices
--   als:              rp.als.train options (+ values)
--   segment, trending, content, projection, blend: the strategies' options
--   strategies:       which to report, by name (see `build` below)
--   chain:            auto (default: tuned per band of history size on inner folds of
--                     each outer fold's training users, rp.hybrid.tune_chain, over the
--                     single strategies listed in `strategies`), or rules
--                     {when = {min_history, max_history, known, attribute},
--                     use = name | {blend = [[name, weight], ...]}, label}, or
--   chain_script:     a Lua file returning function(parts, case, cfg, attributes) -> a chain
--                     (parts: every strategy by name; attributes: {users, items} features)
--   chains:           more chains to report beside `chain`, by name: {name: rules | auto}
--   tuning:           rp.hybrid.tune_chain options for `auto` (folds, search, steps,
--                     max_parts, bands, reveal, select, ...; k and seed default to
--                     eval.k and split.seed)
--   cold_items:       {fraction (0: skip), seed, k, strategies}
--   eval:             k, metrics, bootstrap, seed, baseline (the strategy compared against)
--   results:          a Markdown file for the tables ("" = none)
local rp = require "recpipe"
local tune = require "recpipe.tune"

local cfg = tune.config({
  name = "cold start",
  data = tune.shop_data(),
  item_attributes = {},
  user_attributes = nil,
  split = { folds = 5, reveal = { 0, 1, 3, 5 }, seed = 42, min_events = 1 },
  matrix = { aggregate = "sum", values = "binary" },
  als = { factors = 32, regularization = 1.0, iterations = 15, alpha = 1.0, seed = 42,
          values = "binary" },
  segment = { field = nil, shrinkage = 10 },
  trending = { half_life_days = 365 },
  content = { binary = true },
  projection = {}, -- regularization: rp.hybrid.project's default
  blend = { normalize = "rank", depth = 100 },
  strategies = { "popularity", "segment", "trending", "content", "item_knn", "fold_in",
                 "projection", "chain" },
  chain = "auto",
  chains = {},
  tuning = {},
  chain_script = nil,
  cold_items = { fraction = 0.1, seed = 42, k = 50,
                 strategies = { "projection", "random_placement", "content" } },
  eval = { k = 10, metrics = { "ndcg", "recall", "map", "hit_rate" }, bootstrap = 1000,
           seed = 42, baseline = "popularity" },
  results = "",
}, { "data", "item_attributes", "user_attributes", "split", "strategies", "chain", "chains",
     -- every key this pipeline reads: any other is refused, naming the file
     keys = { name = true, data = rp.config.keys({ "path" }, { read = tune.READ_KEYS }),
              item_attributes = { ["*"] = rp.config.keys { "path", "options", "weight" } },
              user_attributes = rp.config.keys { "path", "options" },
              split = rp.config.keys { "folds", "fraction", "reveal", "seed", "min_events" },
              matrix = rp.config.keys({ "values" }, tune.MATRIX_KEYS), als = true,
              segment = rp.config.keys { "field", "shrinkage", "half_life_days" },
              trending = rp.config.keys { "half_life_days" },
              content = rp.config.keys { "binary" },
              projection = rp.config.keys { "regularization" },
              blend = rp.config.keys { "normalize", "depth" },
              strategies = true, chain = true, chains = true, tuning = true, chain_script = true,
              cold_items = rp.config.keys { "fraction", "seed", "k", "strategies" },
              eval = rp.config.keys { "k", "metrics", "bootstrap", "seed", "baseline" },
              results = true } },
  ...)

local t0 = rp.clock()
local function fail(msg) rp.config.error("coldstart: " .. msg) end
local S = cfg.split

-- ---- data --------------------------------------------------------------------------
local d = cfg.data
if type(d) ~= "table" or type(d.path) ~= "string" then fail("data.path is required") end
local ev = rp.io.read_events(d.path, d.read or {})
rp.log.info("%s: %d events, %d users, %d items", d.path, #ev, #ev.users, #ev.items)

local function read_attrs(a, map, what)
  local o = {}
  for k, v in pairs(a.options or {}) do o[k] = v end
  o.map = map
  local f, rep = rp.hybrid.attributes(a.path, o)
  rp.log.info("%s %s: %d entities with attributes, %d without, %d features%s%s", what, a.path,
    rep.entities, rep.missing, rep.features,
    rep.unknown > 0 and (", %d lines of unknown ids"):format(rep.unknown) or "",
    rep.skipped > 0 and (", %d malformed lines skipped"):format(rep.skipped) or "")
  return f
end

local item_attrs
do
  local parts = {}
  for _, a in ipairs(cfg.item_attributes or {}) do
    parts[#parts + 1] = { read_attrs(a, ev.items, "item attributes"), a.weight or 1 }
  end
  if #parts == 1 then
    item_attrs = parts[1][1]
  elseif #parts > 1 then
    parts.normalize = true
    item_attrs = rp.hybrid.combine(parts)
  end
end
local user_attrs = cfg.user_attributes and cfg.user_attributes.path
  and read_attrs(cfg.user_attributes, ev.users, "user attributes") or nil

local function matrix(e)
  local m = e:to_matrix { aggregate = cfg.matrix.aggregate }
  if cfg.matrix.values == "binary" then m = m:binarize() end
  return m
end

-- ---- strategies ---------------------------------------------------------------------
-- The parts of one training set: every strategy a chain or the report can
-- name.  Built on demand (an ALS model only when something uses it).
local function parts_of(train_ev, cases)
  local P = { _train_ev = train_ev, _cases = cases }
  P._train = matrix(train_ev)
  local build = {}
  function build.popularity() return rp.baseline.popularity(P._train) end
  function build.segment()
    if not user_attrs or not cfg.segment.field then return nil end
    return rp.hybrid.segment_popularity(train_ev, user_attrs, { field = cfg.segment.field,
      shrinkage = cfg.segment.shrinkage, half_life_days = cfg.segment.half_life_days })
  end
  function build.content()
    if not item_attrs then return nil end
    return rp.hybrid.content(P._train, item_attrs, { binary = cfg.content.binary })
  end
  function build.item_knn()
    return rp.hybrid.content(P._train, rp.hybrid.interaction_features(P._train),
      { binary = true })
  end
  function build.als()
    local o = {}
    for k, v in pairs(cfg.als) do o[k] = v end
    o.type = "als"
    return tune.build(o, P._train)
  end
  function build.fold_in() return rp.hybrid.fold_in(P.als) end
  function build.projection()
    if not item_attrs and not user_attrs then return nil end
    return rp.hybrid.project(P.als, item_attrs, { user_features = user_attrs,
      regularization = cfg.projection.regularization, train = P._train })
  end
  function build.random_placement()
    if not item_attrs then return nil end
    return rp.hybrid.project(P.als, item_attrs, { method = "random", seed = cfg.eval.seed,
      train = P._train })
  end
  return setmetatable(P, { __index = function(t, name)
    local b = build[name]
    if not b then return nil end
    local v = b()
    rawset(t, name, v or false)
    return v
  end })
end

-- strategies that depend on the reveal case (the request time of trending)
local function trending_for(P, case)
  P._trending = P._trending or {}
  local key = case or "now" -- no case: the request time is now (the latest training event)
  if P._trending[key] == nil then
    P._trending[key] = rp.hybrid.trending(P._train_ev, { half_life_days =
      cfg.trending.half_life_days, at = case and case.test })
  end
  return P._trending[key]
end

local function get(P, case, name)
  if name == "trending" then return trending_for(P, case) end
  local v = P[name]
  return v or nil
end

local function resolve(P, case, use)
  if type(use) == "string" then
    local r = get(P, case, use)
    if not r then fail(("strategy '%s' is not available (missing attributes?)"):format(use)) end
    return r
  end
  if type(use) == "table" and use.blend then
    local spec = { normalize = use.normalize or cfg.blend.normalize,
                   depth = use.depth or cfg.blend.depth }
    for i, e in ipairs(use.blend) do spec[i] = { resolve(P, case, e[1]), e[2] or 1 } end
    return rp.hybrid.blend(spec)
  end
  fail("a chain rule's 'use' must be a strategy name or {blend = [[name, weight], ...]}")
end

-- when = {min_history, max_history, known, attribute} -> predicate
local function predicate(w)
  if w == nil then return nil end
  return function(ctx)
    if w.min_history and ctx.n < w.min_history then return false end
    if w.max_history and ctx.n > w.max_history then return false end
    if w.known ~= nil and ctx.known ~= w.known then return false end
    if w.attribute and ctx.attributes[w.attribute] == nil then return false end
    return true
  end
end

local chain_script = cfg.chain_script and dofile(cfg.chain_script) or nil

-- the chains by strategy name: `chain` and those under `chains`
local function chain_spec(name)
  if name == "chain" then return cfg.chain end
  return type(cfg.chains) == "table" and cfg.chains[name] or nil
end

-- strategies that answer from a user's known interactions only (nothing at
-- reveal 0), and those that need user attributes to say anything of a new user
local NEEDS_HISTORY = { content = true, item_knn = true, fold_in = true }
local NEEDS_USERS = { segment = true, projection = true }
local NEEDS_ITEMS = { content = true, random_placement = true }

-- The single strategies a tuned chain chooses from: those of `strategies`
-- this dataset can build.
local function tunable()
  local names = {}
  for _, name in ipairs(cfg.strategies) do
    if not chain_spec(name) and name ~= "random_placement"
      and not (NEEDS_USERS[name] and not user_attrs) and not (NEEDS_ITEMS[name] and not item_attrs)
      and not (name == "segment" and not cfg.segment.field) then
      names[#names + 1] = name
    end
  end
  return names
end

-- The parts of a training set, built once whoever asks (tune_chain's inner
-- folds, the outer folds).
local parts_cache = setmetatable({}, { __mode = "k" })
local function parts_for(tr)
  local P = parts_cache[tr]
  if not P then
    P = parts_of(tr, nil)
    parts_cache[tr] = P
  end
  return P
end

-- `chain: auto` of one outer fold: tuned on its training users only.
local function tuned(F)
  if F.tuning then return F.tuning end
  local names, builders = tunable(), {}
  for _, name in ipairs(names) do
    builders[name] = function(tr, case) return get(parts_for(tr), case, name) end
  end
  local o = { k = cfg.eval.k, seed = S.seed, min_events = S.min_events }
  for key, v in pairs(cfg.tuning or {}) do o[key] = v end
  local _, report = rp.hybrid.tune_chain(builders, F.parts._train_ev, "cold", o)
  F.tuning = report
  return report
end

local function chain_for(P, case, name, F)
  P._chain = P._chain or {}
  local key = name .. "\0"
  P._chain[key] = P._chain[key] or {}
  if P._chain[key][case] then return P._chain[key][case] end
  local c, spec = nil, chain_spec(name)
  if name == "chain" and chain_script then
    c = chain_script(setmetatable({}, { __index = function(_, n) return get(P, case, n) end }),
      case, cfg, { users = user_attrs, items = item_attrs })
  elseif spec == "auto" then
    local report, recs = tuned(F), {}
    for _, n in ipairs(report.parts) do recs[n] = get(P, case, n) end
    c = rp.hybrid.tuned_chain(report, recs)
  elseif type(spec) == "table" then
    local rules = { attributes = user_attrs }
    for i, r in ipairs(spec) do
      rules[i] = { when = predicate(r.when), use = resolve(P, case, r.use), label = r.label }
    end
    c = rp.hybrid.chain(rules)
  else
    fail(("chain '%s' must be auto or a list of rules, got %s"):format(name, tostring(spec)))
  end
  P._chain[key][case] = c
  return c
end

local function strategy(F, case, name)
  if chain_spec(name) or (name == "chain" and chain_script) then
    return chain_for(F.parts, case, name, F)
  end
  return get(F.parts, case, name)
end

-- ---- reports --------------------------------------------------------------------------
local E = cfg.eval
local lines = {}
local function out(s)
  print(s)
  lines[#lines + 1] = s
end

local function table_of(title, reports, k)
  out("")
  out(("**%s**"):format(title))
  out("")
  local head = { "strategy", "users" }
  for _, m in ipairs(E.metrics) do head[#head + 1] = ("%s@%d [95%% CI]"):format(m, k) end
  out("| " .. table.concat(head, " | ") .. " |")
  out("|" .. string.rep("---|", #head))
  for _, r in ipairs(reports) do
    local row = { r.model, tostring(r.users) }
    for _, m in ipairs(E.metrics) do
      local ci = r.ci and r.ci[m]
      row[#row + 1] = ci and ("%.4f [%.4f, %.4f]"):format(r[m], ci[1], ci[2])
        or ("%.4f"):format(r[m] or 0)
    end
    out("| " .. table.concat(row, " | ") .. " |")
  end
end

local function compare_line(reports)
  local base
  for _, r in ipairs(reports) do if r.model == E.baseline then base = r end end
  if not base then return end
  for _, r in ipairs(reports) do
    if r ~= base then
      local c = rp.metrics.compare(r, base, { metrics = { "ndcg" }, bootstrap = E.bootstrap,
        seed = E.seed })
      local x = c.ndcg
      if x then
        -- the paired interval (the same users resampled for both) is the
        -- test; two separate intervals may overlap while it excludes zero
        out(("- %s − %s: ndcg %+.4f [%+.4f, %+.4f] (paired), %s"):format(r.model,
          base.model, x.diff, x.lo, x.hi,
          x.lo > 0 and "better" or x.hi < 0 and "worse" or "no difference shown (the interval holds 0)"))
      end
    end
  end
end

local function is_chain(name) return chain_spec(name) ~= nil or (name == "chain" and chain_script) end

-- The guarantee a tuned chain gives, checked for every chain: its NDCG is
-- not below the best single strategy's by more than the paired interval's
-- half-width, and above the baseline's with the paired interval above zero.
local function guarantee_lines(reports)
  local single, best, base = {}, nil, nil
  for _, n in ipairs(tunable()) do single[n] = true end
  for _, r in ipairs(reports) do
    if single[r.model] and (not best or r.ndcg > best.ndcg) then best = r end
    if r.model == E.baseline then base = r end
  end
  local function diff(a, b)
    return rp.metrics.compare(a, b, { metrics = { "ndcg" }, bootstrap = E.bootstrap,
      seed = E.seed }).ndcg
  end
  for _, r in ipairs(reports) do
    if is_chain(r.model) then
      local t = {}
      if best then
        local x = diff(r, best)
        local h = (x.hi - x.lo) / 2
        t[#t + 1] = ("vs the best single strategy (%s) %+.4f [%+.4f, %+.4f], half-width %.4f: %s")
          :format(best.model, x.diff, x.lo, x.hi, h, x.diff >= -h and "met" or "NOT met")
      end
      if base and base ~= r then
        local y = diff(r, base)
        t[#t + 1] = ("vs %s %+.4f [%+.4f, %+.4f]: %s"):format(base.model, y.diff, y.lo, y.hi,
          y.lo > 0 and "above zero" or "NOT above zero")
      end
      if #t > 0 then out(("- guarantee (%s), ndcg: %s"):format(r.model, table.concat(t, "; "))) end
    end
  end
  -- the chains against each other (the tuned one against a hand-written one)
  local chains = {}
  for _, r in ipairs(reports) do if is_chain(r.model) then chains[#chains + 1] = r end end
  for i = 1, #chains do
    for j = i + 1, #chains do
      local a, b = chains[j], chains[i]
      if b.model == "chain" then a, b = chains[i], chains[j] end
      local x = diff(a, b)
      out(("- %s − %s: ndcg %+.4f [%+.4f, %+.4f] (paired)"):format(a.model, b.model, x.diff,
        x.lo, x.hi))
    end
  end
end

-- ---- new users -------------------------------------------------------------------------
out(("## %s: new users"):format(cfg.name))
local folds = {}
if S.folds and S.folds > 1 then
  for f = 1, S.folds do
    local tr, cases, sum = rp.split.cold_users(ev, { folds = S.folds, fold = f, reveal = S.reveal,
      seed = S.seed, min_events = S.min_events })
    folds[f] = { parts = parts_of(tr, cases), cases = cases, users = sum.users }
    parts_cache[tr] = folds[f].parts
  end
else
  local tr, cases, sum = rp.split.cold_users(ev, { fraction = S.fraction or 0.1,
    reveal = S.reveal, seed = S.seed, min_events = S.min_events })
  folds[1] = { parts = parts_of(tr, cases), cases = cases, users = sum.users }
  parts_cache[tr] = folds[1].parts
end
local fold_of = {}
for f, F in ipairs(folds) do for _, u in ipairs(F.users) do fold_of[u] = f end end
-- the known and test interactions of every held-out user, pooled over folds
local _, pooled = rp.split.cold_users(ev, { fraction = 1, reveal = S.reveal, seed = S.seed,
  min_events = S.min_events })
if #folds == 1 then pooled = folds[1].cases end
local nheld = 0
for _ in pairs(fold_of) do nheld = nheld + 1 end
out(("%d users held out in %d fold%s; known = each user's oldest n interactions, test = the rest")
  :format(nheld, #folds, #folds > 1 and "s (every user held out once, metrics pooled)" or ""))

-- chain: auto: every outer fold's chain is tuned on its own training users
local autos = {}
for _, name in ipairs(cfg.strategies) do
  if chain_spec(name) == "auto" and not (name == "chain" and chain_script) then
    autos[#autos + 1] = name
  end
end
if #autos > 0 then
  local reps = {}
  for f, F in ipairs(folds) do reps[f] = tuned(F) end
  out("")
  out(("**tuned chain (%s: auto)**: `rp.hybrid.tune_chain` over %s, on each outer fold's "
    .. "training users only"):format(table.concat(autos, ", "), table.concat(reps[1].parts, ", ")))
  out("")
  local head, total = { "fold", "validation users" }, 0
  for _, b in ipairs(reps[1].bands) do head[#head + 1] = "history " .. b.label end
  head[#head + 1] = "seconds"
  out("| " .. table.concat(head, " | ") .. " |")
  out("|" .. string.rep("---|", #head))
  for f, rep in ipairs(reps) do
    local row = { tostring(f), tostring(rep.users) }
    for _, b in ipairs(rep.bands) do
      row[#row + 1] = b.from and ("%s (as %s)"):format(b.rule, rep.bands[b.from].label)
        or ("%s (%.4f)"):format(b.rule, b.chosen.score)
    end
    row[#row + 1] = ("%.1f"):format(rep.seconds.total)
    total = total + rep.seconds.total
    out("| " .. table.concat(row, " | ") .. " |")
  end
  out("")
  out(("Tuning took %.1f s in all. Fold 1 in full: %s"):format(total,
    rp.hybrid.tuning_summary(reps[1])[1]))
  local sum = rp.hybrid.tuning_summary(reps[1])
  for i = 2, #sum do out(sum[i]) end
end

-- a recommender answering each user with its fold's strategy
local function routed(name, r)
  if #folds == 1 then return strategy(folds[1], folds[1].cases[r], name) end
  local rules = {}
  for f, F in ipairs(folds) do
    local rec = strategy(F, F.cases[r], name)
    if not rec then return nil end
    rules[f] = { when = function(ctx) return fold_of[ctx.user] == f end, use = rec,
                 label = "fold" .. f }
  end
  return rp.hybrid.chain(rules)
end

for r, case in ipairs(pooled) do
  local known, test = matrix(case.known), matrix(case.test)
  local reports = {}
  for _, name in ipairs(cfg.strategies) do
    local rec = not (case.reveal == 0 and NEEDS_HISTORY[name])
      and not (NEEDS_USERS[name] and not user_attrs) and routed(name, r) or nil
    if rec then
      reports[#reports + 1] = rp.metrics.evaluate(rec, known, test, { k = E.k,
        metrics = E.metrics, bootstrap = E.bootstrap, seed = E.seed, name = name })
    elseif r == 1 and not (case.reveal == 0 and NEEDS_HISTORY[name]) then
      rp.log.info("strategy %s skipped for new users (needs attributes this dataset lacks)", name)
    end
  end
  table_of(("reveal %d: %d users with a test interaction"):format(case.reveal,
    reports[1] and reports[1].users or 0), reports, E.k)
  out("")
  compare_line(reports)
  guarantee_lines(reports)
end

-- ---- new items ------------------------------------------------------------------------------
local CI = cfg.cold_items
if CI and CI.fraction and CI.fraction > 0 and item_attrs then
  out("")
  out(("## %s: new items"):format(cfg.name))
  local tr, te, info = rp.split.cold_items(ev, { fraction = CI.fraction, seed = CI.seed })
  local P = parts_of(tr, nil)
  local test = matrix(te)
  out(("%d items held out (%d events); each strategy ranks only them"):format(info.held_out, #te))
  local reports = {}
  for _, name in ipairs(CI.strategies) do
    local rec = get(P, nil, name)
    if rec then
      rec:restrict(info.items)
      reports[#reports + 1] = rp.metrics.evaluate(rec, P._train, test, { k = CI.k,
        metrics = E.metrics, bootstrap = E.bootstrap, seed = E.seed, name = name })
    end
  end
  table_of(("cold items: %d users took one"):format(reports[1] and reports[1].users or 0),
    reports, CI.k)
  if P.projection and P.projection.info then
    local i = P.projection.info
    out("")
    out(("projection: fitted on %d warm items (r² %.3f) in %.3f s, %d cold items placed, %d without attributes")
      :format(i.warm_items, i.item_r2, i.fit_seconds, i.projected_items, i.unplaced_items))
  end
end

rp.log.info("done in %.1f s", rp.clock() - t0)
if cfg.results and cfg.results ~= "" then
  tune.write(cfg.results, table.concat(lines, "\n") .. "\n")
  rp.log.info("tables written to %s", cfg.results)
end
