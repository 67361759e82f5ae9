-- rp.baseline from Lua: the recommender protocol of popularity, random and
-- item-kNN, and rp.metrics.evaluate through their C interface checked
-- against the naive metrics on their own lists and against the Lua path.
local rp = require "recpipe"
local T = require "recpipe.test"
local naive = dofile("tests/lua/naive_metrics.lua")

local dir = T.tmpdir()

local function lcg(seed)
  local s = seed
  return function(m)
    s = (s * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    return (s >> 33) % m
  end
end

-- 150 users, 80 items with a popularity skew, times over 30 days
local rnd = lcg(3)
local lines = { "user,item,value,time" }
for _ = 1, 4000 do
  local it = math.min(rnd(80), rnd(80), rnd(80))
  lines[#lines + 1] = ("u%d,i%d,%d,%d"):format(rnd(150), it, 1 + rnd(3), 1700000000 + rnd(30 * 86400))
end
T.write(dir .. "/log.csv", table.concat(lines, "\n") .. "\n")
local ev = rp.io.read_events(dir .. "/log.csv", { value = "value", time = "time" })
local tr, te = rp.split.by_time(ev, { test_fraction = 0.2 })
local train, test = tr:to_matrix(), te:to_matrix()

local models = {
  popularity = rp.baseline.popularity(tr),
  random = rp.baseline.random(train, { seed = 7 }),
  item_knn = rp.baseline.item_knn(train, { k = 30 }),
  bm25 = rp.baseline.item_knn(train, { k = 30, similarity = "bm25" }),
  jaccard = rp.baseline.item_knn(train, { k = 30, similarity = "jaccard" }),
}

T.case("evaluate through __recommender equals the naive metrics on recommend_all", function()
  for name, m in pairs(models) do
    for _, k in ipairs { 1, 10, 100 } do
      local lists = m:recommend_all { k = k, exclude = train }
      local want = naive(lists, k, train, test)
      local r = rp.metrics.evaluate(m, train, test, { k = k, metrics = "all" })
      T.eq(r.users, want.users)
      for _, metric in ipairs(rp.metrics.RANKING) do
        T.near(r[metric], want[metric], 1e-9, name .. " " .. metric .. "@" .. k)
      end
    end
  end
end)

T.case("the C path and the Lua path give the same report", function()
  for name, m in pairs(models) do
    local wrapper = { name = name }
    function wrapper:recommend_all(o) return m:recommend_all(o) end
    local a = rp.metrics.evaluate(m, train, test, { k = 10, metrics = "all", bootstrap = 50 })
    local b = rp.metrics.evaluate(wrapper, train, test, { k = 10, metrics = "all", bootstrap = 50 })
    for _, metric in ipairs(rp.metrics.RANKING) do
      T.eq(a[metric], b[metric], name .. " " .. metric)
    end
    T.eq(a.ci.ndcg[1], b.ci.ndcg[1])
  end
end)

T.case("item-kNN beats popularity beats random on this data", function()
  local r = {}
  for _, name in ipairs { "random", "popularity", "item_knn" } do
    r[name] = rp.metrics.evaluate(models[name], train, test, { k = 10, name = name })
  end
  T.ok(r.popularity.ndcg > r.random.ndcg, "popularity > random")
  local d = rp.metrics.compare(r.popularity, r.random, { metrics = { "ndcg" } })
  T.ok(d.ndcg.lo > 0, "popularity's win over random is significant")
end)

T.case("recommend: k, exclude, allow and deny lists, unknown users", function()
  local pop, knn = models.popularity, models.item_knn
  local u = ev.users:id(1)
  local all = pop:recommend(u, { k = 100 })
  T.ok(#all > 20)
  for j = 2, #all do T.ok(select(2, pop:recommend(u, { k = 100 }))[j] <= select(2, pop:recommend(u, { k = 100 }))[j - 1]) end
  local ex = pop:recommend(u, { k = 5, exclude = train })
  local seen = {}
  for _, it in ipairs(train:row(u) or {}) do seen[it] = true end
  for _, it in ipairs(ex) do T.ok(not seen[it], "train item excluded") end
  local deny = pop:recommend(u, { k = 3, deny = { all[1], all[2] } })
  T.eq(deny[1], all[3])
  local allow = pop:recommend(u, { k = 3, items = { all[5], all[2], "no-such-item" } })
  T.same(allow, { all[2], all[5] })
  T.same(pop:recommend(u, { items = {} }), {})
  -- popularity answers anyone; item-kNN has nothing for a stranger
  T.eq(#pop:recommend("stranger", { k = 4 }), 4)
  local none, msg = knn:recommend("stranger")
  T.eq(none, nil)
  T.ok(msg:find("unknown user", 1, true))
  -- one user's list equals its entry in recommend_all
  local one, s1 = knn:recommend(u, { k = 7, exclude = train })
  local batch, sb = knn:recommend_all { users = { u, "stranger" }, k = 7, exclude = train }
  T.same(batch[u], one)
  T.same(sb[u], s1)
  T.eq(batch.stranger, nil)
  local pb = pop:recommend_all { users = { "stranger" }, k = 2 }
  T.eq(#pb.stranger, 2)
end)

T.case("random: reproducible per seed, distinct, unseen", function()
  local r1 = rp.baseline.random(train, { seed = 5 })
  local r2 = rp.baseline.random(train, { seed = 5 })
  local r3 = rp.baseline.random(train, { seed = 6 })
  local u = ev.users:id(3)
  T.same(r1:recommend(u, { k = 10, exclude = train }), r2:recommend(u, { k = 10, exclude = train }))
  T.ok(table.concat((r1:recommend(u, { k = 10 }))) ~= table.concat((r3:recommend(u, { k = 10 }))))
  local l = r1:recommend(u, { k = 1000, exclude = train })
  local set = {}
  for _, it in ipairs(l) do
    T.ok(not set[it], "distinct")
    set[it] = true
  end
end)

T.case("item-kNN: similar_items, options", function()
  local knn = models.item_knn
  local it = ev.items:id(1)
  local sim, s = knn:similar_items(it, { k = 5 })
  T.ok(#sim >= 1 and #sim <= 5)
  for j = 2, #s do T.ok(s[j] <= s[j - 1]) end
  for _, x in ipairs(sim) do T.ok(x ~= it) end
  T.eq(knn:similar_items("nope"), nil)
  T.ok(knn.neighbours > 0 and knn.name == "item_knn")
  T.errors(function() models.popularity:similar_items(it) end, "needs an item-kNN model")
  T.errors(function() rp.baseline.item_knn(train, { similarity = "pearson" }) end,
    "field 'similarity' must be one of 'cosine', 'jaccard', 'bm25', 'tfidf', 'dot'")
  T.errors(function() rp.baseline.item_knn(train, { k = 0 }) end, "field 'k'")
  T.errors(function() rp.baseline.item_knn(tr) end, "recpipe.Matrix expected")
  T.ok(tostring(knn):find("item_knn", 1, true))
end)

T.case("popularity: decay favours recent items; options", function()
  T.write(dir .. "/decay.csv", table.concat({
    "user,item,time",
    "a,old,0", "b,old,0", "c,old,0",             -- 3 users long ago
    "a,new,864000", "b,new,864000",              -- 2 users 10 days later
  }, "\n") .. "\n")
  local d = rp.io.read_events(dir .. "/decay.csv", { time = "time" })
  T.eq(rp.baseline.popularity(d):recommend("z", { k = 1 })[1], "old")
  local items, scores = rp.baseline.popularity(d, { half_life_days = 5 }):recommend("z", { k = 2 })
  T.eq(items[1], "new")
  T.near(scores[1], 2, 1e-6)
  T.near(scores[2], 0.75, 1e-6) -- 3 users two half-lives ago
  local m = d:to_matrix()
  T.eq(rp.baseline.popularity(m):recommend("z", { k = 1 })[1], "old")
  T.errors(function() rp.baseline.popularity(m, { half_life_days = 5 }) end, "needs event times")
  T.errors(function() rp.baseline.popularity(d, { half_life_days = -1 }) end, "half_life_days")
  T.errors(function() rp.baseline.popularity("x") end, "recpipe.Events or recpipe.Matrix")
  T.errors(function() rp.baseline.popularity(d, { by = "clicks" }) end, "field 'by' must be one of")
end)

T.done()
