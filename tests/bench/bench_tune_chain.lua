-- Chain tuning benchmark (RESULTS.md section "hybrid", issue 14's target):
-- rp.hybrid.tune_chain over 7 parts (popularity, segment, trending,
-- content, item-kNN, fold-in, projection), 4 bands (0, 1-2, 3-5, 6+), 3
-- inner folds, on all of MovieLens 100K as the training data (the
-- coldstart pipeline tunes on 4/5 of it per outer fold).  Target: under
-- 60 s on 2 cores.  Prints the time of each phase (median of `runs`), then
-- the same tuning with other searches for comparison.
--   recpipe run tests/bench/bench_tune_chain.lua [runs]
-- Needs ../shared/data/movielens-100k (prints a skip line without it).
local rp = require "recpipe"

local D = os.getenv("RECPIPE_ML100K") or "../shared/data/movielens-100k"
local f = io.open(D .. "/u.data")
if not f then
  print("bench_tune_chain: skipped (MovieLens 100K not found in " .. D .. ")")
  return
end
f:close()
local runs = tonumber(arg[1]) or 3

-- the 1, 5 and 15 minute load averages (the machine is shared)
local function loadavg()
  local l = io.open("/proc/loadavg")
  if not l then return "?" end
  local a, b, c = l:read("n", "n", "n")
  l:close()
  return ("%.2f %.2f %.2f"):format(a or 0, b or 0, c or 0)
end

local ev = rp.io.read_events(D .. "/u.data", { sep = "\t", header = false, user = 1, item = 2,
  value = 3, time = 4 })
local genres = { "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
  "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
  "Sci-Fi", "Thriller", "War", "Western" }
local names = { "movie_id", "title", "release", "video", "url" }
for _, g in ipairs(genres) do names[#names + 1] = g end
local items = rp.hybrid.attributes(D .. "/u.item", { sep = "|", header = false, map = ev.items,
  names = names, id = "movie_id", fields = { genre = { flags = genres } }, normalize = true })
local users = rp.hybrid.attributes(D .. "/u.user", { sep = "|", header = false, map = ev.users,
  names = { "user_id", "age", "gender", "occupation", "zip" }, id = "user_id",
  fields = { age = { buckets = { 18, 25, 35, 45, 56 } }, gender = true, occupation = true } })

-- the parts as pipelines/coldstart.lua builds them for examples/coldstart_ml100k.yaml
local function binary(e) return e:to_matrix():binarize() end
local function m_of(tr, memo)
  memo.m = memo.m or binary(tr)
  return memo.m
end
local function als_of(tr, memo)
  memo.als = memo.als or rp.als.train(m_of(tr, memo), { factors = 32, regularization = 1,
    iterations = 15, alpha = 1, seed = 42 })
  return memo.als
end
local parts = {
  popularity = function(tr, _, memo) return rp.baseline.popularity(m_of(tr, memo)) end,
  segment = function(tr, _, memo)
    memo.seg = memo.seg or rp.hybrid.segment_popularity(tr, users, { field = { "age", "gender" },
      shrinkage = 10 })
    return memo.seg
  end,
  trending = function(tr, case)
    return rp.hybrid.trending(tr, { half_life_days = 30, at = case and case.test })
  end,
  content = function(tr, _, memo)
    memo.content = memo.content or rp.hybrid.content(m_of(tr, memo), items, { binary = true })
    return memo.content
  end,
  item_knn = function(tr, _, memo)
    local m = m_of(tr, memo)
    memo.knn = memo.knn or rp.hybrid.content(m, rp.hybrid.interaction_features(m),
      { binary = true })
    return memo.knn
  end,
  fold_in = function(tr, _, memo)
    memo.fold_in = memo.fold_in or rp.hybrid.fold_in(als_of(tr, memo))
    return memo.fold_in
  end,
  projection = function(tr, _, memo)
    memo.proj = memo.proj or rp.hybrid.project(als_of(tr, memo), items, { user_features = users,
      regularization = 1, train = m_of(tr, memo) })
    return memo.proj
  end,
}

local function bench(opts, n, label)
  local times, last = {}, nil
  for _ = 1, n do
    collectgarbage()
    local t0 = rp.clock()
    local _, rep = rp.hybrid.tune_chain(parts, ev, "cold", opts)
    times[#times + 1] = { total = rp.clock() - t0, rep = rep }
    last = rep
  end
  table.sort(times, function(a, b) return a.total < b.total end)
  local m = times[(#times + 1) // 2]
  local s, cand = m.rep.seconds, {}
  for _, b in ipairs(last.bands) do cand[#cand + 1] = b.candidates and #b.candidates or 0 end
  print(("%-34s %6.1f s (splits %.1f, parts %.1f, scoring %.1f, search %.1f); rows %d; "
    .. "candidates per band %s"):format(label, m.total, s.split, s.parts, s.scoring, s.search,
    last.rows, table.concat(cand, "/")))
  return last
end

print(("load before: %s; %d cores; OMP threads: all"):format(loadavg(), rp.cores()))
local rep = bench({ folds = 3 }, runs, ("default (grid 1/4, 3 parts), %d runs"):format(runs))
for _, line in ipairs(rp.hybrid.tuning_summary(rep)) do print(line) end
print("")
local other = {
  { { folds = 3, steps = 6 }, "grid 1/6, 3 parts" },
  { { folds = 3, search = "coordinate", steps = 10, max_parts = 7 }, "coordinate 1/10, 7 parts" },
  { { folds = 3, select = "one_se" }, "grid 1/4, select one_se" },
}
for _, o in ipairs(other) do
  local r = bench(o[1], 1, o[2])
  local rules = {}
  for _, b in ipairs(r.bands) do
    rules[#rules + 1] = ("%s: %s (%.4f)"):format(b.label, b.rule, b.chosen.score)
  end
  print("    " .. table.concat(rules, "; "))
end
print(("load after: %s"):format(loadavg()))
