-- rp.hybrid.tune_chain on a generated shop: the report's shape and what it
-- promises (a rule per band with its validation interval, the runner-up),
-- validation users drawn from the training users only, the same answer
-- twice, the chain it returns, bad arguments, and the warm-user guarantee
-- with a time split: the tuned blend of ALS, item-kNN, trending and
-- popularity is not below the best single part by more than the paired
-- interval's half-width and beats popularity with a paired interval above
-- zero on the test period.  (The cold-user guarantee is checked end to end
-- by tests/e2e/coldstart.sh and, on MovieLens, coldstart_ml.sh.)
local rp = require "recpipe"
local T = require "recpipe.test"

if not rp.gen or not rp.als then T.skip("needs the gen and als modules") end

local dir = T.tmpdir()
rp.gen.events { path = dir .. "/events.csv", items_path = dir .. "/items.csv",
  users_path = dir .. "/users.csv", users = 1200, items = 400, events = 40000, clusters = 8,
  seed = 11 }
local ev = rp.io.read_events(dir .. "/events.csv", { user = "user_id", item = "item_id",
  time = "timestamp", event = "event", weights = { purchase = 5, addtocart = 3, view = 1 } })
local users = rp.hybrid.attributes(dir .. "/users.csv", { id = "user_id", map = ev.users,
  fields = { age_band = true, gender = true, occupation = true, country = true } })
local function binary(e) return e:to_matrix():binarize() end

local function parts_of()
  return {
    popularity = function(tr, _, memo)
      memo.m = memo.m or binary(tr)
      return rp.baseline.popularity(memo.m)
    end,
    segment = function(tr)
      return rp.hybrid.segment_popularity(tr, users, { field = { "age_band", "occupation" } })
    end,
    item_knn = function(tr, _, memo)
      memo.m = memo.m or binary(tr)
      return rp.hybrid.content(memo.m, rp.hybrid.interaction_features(memo.m), { binary = true })
    end,
    fold_in = function(tr, _, memo)
      memo.m = memo.m or binary(tr)
      memo.als = memo.als or rp.als.train(memo.m, { factors = 16, regularization = 1,
        iterations = 8, seed = 3 })
      return rp.hybrid.fold_in(memo.als)
    end,
  }
end

-- the outer split: 20% of the users are the test users, never seen by the tuning
local train_ev, cases, held = rp.split.cold_users(ev, { fraction = 0.2, reveal = { 0, 1, 3 },
  seed = 4 })
local test_user = {}
for _, u in ipairs(held.users) do test_user[u] = true end
local OPTS = { folds = 2, bootstrap = 200, reveal = { 0, 1, 3, 6 } }

local report1
T.case("a rule per band, its validation interval and the runner-up", function()
  local chain, rep = rp.hybrid.tune_chain(parts_of(), train_ev, "cold", OPTS)
  report1 = rep
  T.eq(rep.cases, "cold")
  T.same(rep.parts, { "fold_in", "item_knn", "popularity", "segment" })
  T.eq(#rep.bands, 4)
  T.same({ rep.bands[1].label, rep.bands[2].label, rep.bands[3].label, rep.bands[4].label },
    { "0", "1-2", "3-5", "6+" })
  T.ok(rep.rows > 0 and rep.users > 0 and rep.users <= #train_ev.users)
  T.eq(rep.options.folds, 2)
  T.same(rep.options.reveal, { 0, 1, 3, 6 })
  T.eq(rep.options.metric, "ndcg")
  T.eq(rep.options.search, "auto")
  for _, k in ipairs { "split", "parts", "scoring", "search", "total" } do
    T.ok(type(rep.seconds[k]) == "number" and rep.seconds[k] >= 0, k)
  end
  for _, b in ipairs(rep.bands) do
    T.ok(b.rows > 0, b.label)
    local c = b.chosen
    T.ok(c.lo <= c.score and c.score <= c.hi, b.label .. " interval holds the score")
    T.ok(c.score > 0 and c.score <= 1)
    local wsum = 0
    for _, w in pairs(c.weights) do wsum = wsum + w end
    T.near(wsum, 1, 1e-6, "weights on the simplex")
    T.ok(#b.candidates >= 4 and b.search == "grid")
    T.ok(b.runner_up and b.runner_up.diff_lo <= b.runner_up.diff
      and b.runner_up.diff <= b.runner_up.diff_hi)
    T.ok(type(b.rule) == "string" and #b.rule > 0)
    -- every single part that answered the band has a validation score
    T.ok(b.singles.popularity and b.singles.segment, b.label)
    -- the chosen rule is at least as good as the best single part minus one standard error
    local best = 0
    for _, s in pairs(b.singles) do best = math.max(best, s.score) end
    T.ok(c.score >= best - c.se - 1e-12 or c.score >= best)
  end
  -- nothing answers a user without history but popularity and segment
  T.eq(rep.bands[1].singles.item_knn, nil)
  T.eq(rep.bands[1].singles.fold_in, nil)
  T.ok(rep.fallback == "popularity" or rep.fallback == "segment")
  -- the chain: the band's rule answers, labelled by the band
  local known = binary(cases[3].known)
  local u
  for _, v in ipairs(held.users) do if not u and #known:row(v) == 3 then u = v end end
  local items, _, why = chain:recommend(u, { k = 10, exclude = known })
  T.eq(#items, 10)
  T.ok(why:find("^3%-5:") ~= nil, why)
  local _, _, why0 = chain:recommend(held.users[1], { k = 5 }) -- nothing known: band 0
  T.ok(why0:find("^0:") ~= nil, why0)
  local lines = rp.hybrid.tuning_summary(rep)
  T.ok(lines[1]:find("validation rows", 1, true) ~= nil)
  T.eq(#lines, 4 + #rep.bands + 2)
end)

T.case("validation users are training users only, and the answer repeats", function()
  local seen, n = {}, 0
  local parts = parts_of()
  for name, build in pairs(parts) do
    parts[name] = function(tr, case, memo)
      if case then
        local m = binary(case.test)
        for _, u in ipairs(m.users:ids()) do
          if #m:row(u) > 0 and not seen[u] then seen[u] = true; n = n + 1 end
        end
      end
      return build(tr, case, memo)
    end
  end
  local _, rep = rp.hybrid.tune_chain(parts, train_ev, "cold", OPTS)
  T.ok(n > 0)
  for u in pairs(seen) do T.ok(not test_user[u], "test user " .. u .. " in a validation case") end
  for b, band in ipairs(rep.bands) do
    T.eq(band.rule, report1.bands[b].rule)
    T.eq(band.chosen.score, report1.bands[b].chosen.score)
    T.eq(band.chosen.lo, report1.bands[b].chosen.lo)
  end
end)

T.case("options: the core's names, defaults and ranges", function()
  local P = parts_of()
  T.errors(function() rp.hybrid.tune_chain(P, train_ev, "warm") end,
    "bad argument #3 to 'tune_chain' (invalid option 'warm')")
  T.errors(function() rp.hybrid.tune_chain(P, train_ev, "cold", { colour = 1 }) end,
    "unknown option 'colour' (known: metric, k, folds")
  T.errors(function() rp.hybrid.tune_chain(P, train_ev, "cold", { k = 0 }) end,
    "option 'k' must be an integer in 1..1048576, got 0")
  T.errors(function() rp.hybrid.tune_chain(P, train_ev, "cold", { search = true }) end,
    "option 'search' must be one of 'auto', 'grid', 'coordinate', got boolean")
  T.errors(function() rp.hybrid.tune_chain(P, train_ev, "cold", { bands = { 0, "x" } }) end,
    "option 'bands' must be a list of 1 to 16 integers")
  T.errors(function() rp.hybrid.tune_chain(P, train_ev, "cold", { bands = { 2, 5 } }) end,
    "option 'bands' must start at 0")
  T.errors(function() rp.hybrid.tune_chain(P, train_ev, "cold", { folds = 1 }) end,
    "option 'folds' must be at least 2 for cold cases")
  T.errors(function() rp.hybrid.tune_chain(P, train_ev, "cold", { fallback = "nope" }) end,
    "option 'fallback' names no part: 'nope'")
  T.errors(function() rp.hybrid.tune_chain(P, "events", "cold") end,
    "bad argument #2 to 'tune_chain' (recpipe.Events expected")
  T.errors(function() rp.hybrid.tune_chain(42, train_ev, "cold") end,
    "bad argument #1 to 'tune_chain' (table of part builders")
  T.errors(function() rp.hybrid.tune_chain({ pop = 1 }, train_ev, "cold") end,
    "entry 'pop' must be a function(train, case, memo)")
  T.errors(function()
    rp.hybrid.tune_chain({ lua = function() return rp.hybrid.chain { { use = rp.baseline
      .popularity(binary(train_ev)) } } end }, train_ev, "cold", { folds = 2 })
  end, "part 'lua' built recpipe.Chain(1 rules), not a recommender scored in C")
  T.errors(function() rp.hybrid.tuned_chain(report1, { popularity = 1 }) end,
    "tuned_chain: no recommender for part")
  T.errors(function() rp.hybrid.tuned_chain({}, {}) end, "a tune_chain report expected")
end)

T.case("warm users, time split: the tuned blend keeps the guarantee on the test period", function()
  local tr_ev, te_ev = rp.split.by_time(ev, { test_fraction = 0.2 })
  local parts = {
    als = function(tr, _, memo)
      memo.m = memo.m or binary(tr)
      return rp.als.train(memo.m, { factors = 16, regularization = 1, iterations = 10, seed = 3 })
    end,
    item_knn = parts_of().item_knn,
    popularity = parts_of().popularity,
    trending = function(tr, case)
      return rp.hybrid.trending(tr, { half_life_days = 14, at = case and case.test })
    end,
  }
  local _, rep = rp.hybrid.tune_chain(parts, tr_ev, "time", { folds = 2, bootstrap = 200 })
  T.eq(rep.cases, "time")
  local rows = 0
  for _, b in ipairs(rep.bands) do rows = rows + b.rows end
  T.eq(rows, rep.rows)
  local train, test = binary(tr_ev), binary(te_ev)
  local memo, recs = {}, {}
  for name, build in pairs(parts) do recs[name] = build(tr_ev, { test = te_ev }, memo) end
  local chain = rp.hybrid.tuned_chain(rep, recs, { train = train })
  local E = { k = 10, bootstrap = 500, seed = 1 }
  local r, best = {}, nil
  for name, rec in pairs(recs) do
    E.name = name
    r[name] = rp.metrics.evaluate(rec, train, test, E)
    if not best or r[name].ndcg > best.ndcg then best = r[name] end
  end
  E.name = "chain"
  local c = rp.metrics.evaluate(chain, train, test, E)
  local vs_best = rp.metrics.compare(c, best, { metrics = { "ndcg" }, bootstrap = 500 }).ndcg
  local vs_pop = rp.metrics.compare(c, r.popularity, { metrics = { "ndcg" }, bootstrap = 500 })
    .ndcg
  local h = (vs_best.hi - vs_best.lo) / 2
  T.ok(vs_best.diff >= -h, ("chain − %s: %+.4f [%+.4f, %+.4f]"):format(best.model, vs_best.diff,
    vs_best.lo, vs_best.hi))
  T.ok(vs_pop.lo > 0, ("chain − popularity: %+.4f [%+.4f, %+.4f]"):format(vs_pop.diff, vs_pop.lo,
    vs_pop.hi))
end)

T.done()
