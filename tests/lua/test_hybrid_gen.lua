-- Known answers on the generated shop log: its item and user attributes
-- follow hidden taste clusters (rp.gen.events writes them in truth.csv), so
-- content scoring, segment popularity and the projection of attributes onto
-- ALS factors must recover that signal -- far above what popularity or a
-- random placement of the same items gets.
local rp = require "recpipe"
local T = require "recpipe.test"

if not rp.gen or not rp.als then T.skip("needs the gen and als modules") end

local dir = T.tmpdir()
local K = 6
rp.gen.events { path = dir .. "/events.csv", items_path = dir .. "/items.csv",
  users_path = dir .. "/users.csv", truth_path = dir .. "/truth.csv", users = 1500, items = 600,
  events = 60000, clusters = K, seed = 7 }
local ev = rp.io.read_events(dir .. "/events.csv", { user = "user_id", item = "item_id",
  time = "timestamp", event = "event", weights = { purchase = 5, addtocart = 3, view = 1 } })
local truth = { user = {}, item = {} }
for line in io.lines(dir .. "/truth.csv") do
  local kind, id, cl = line:match("^(%w+),([^,]+),(%d+)")
  if kind then truth[kind][id] = tonumber(cl) end
end
local items = rp.hybrid.attributes(dir .. "/items.csv", { id = "item_id", map = ev.items,
  extend = true, fields = { category = true, brand = true, title = { tokens = true } },
  tfidf = true, normalize = true })
local users = rp.hybrid.attributes(dir .. "/users.csv", { id = "user_id", map = ev.users,
  fields = { age_band = true, gender = true, occupation = true, country = true } })

-- share of recommended items in the user's own hidden cluster
local function own_share(lists, who)
  local hit, tot = 0, 0
  for _, u in ipairs(who) do
    for _, it in ipairs(lists[u] or {}) do
      tot = tot + 1
      if truth.item[it] == truth.user[u] then hit = hit + 1 end
    end
  end
  return tot > 0 and hit / tot or 0, tot
end

T.case("content recommends the user's own cluster", function()
  local train = ev:to_matrix():binarize()
  local who = {}
  for _, u in ipairs(ev.users:ids()) do if #train:row(u) >= 5 then who[#who + 1] = u end end
  T.ok(#who > 500)
  local c = rp.hybrid.content(train, items)
  local share, n = own_share((c:recommend_all { users = who, k = 10, exclude = train }), who)
  T.ok(n >= 10 * #who * 0.9)
  local pop = rp.baseline.popularity(train)
  local pshare = own_share((pop:recommend_all { users = who, k = 10, exclude = train }), who)
  T.ok(share >= 0.8, ("content own-cluster share %.3f"):format(share))
  T.ok(share > 3 * pshare and share > 3 / K, ("content %.3f, popularity %.3f"):format(share,
    pshare))
end)

T.case("segment popularity and user projection follow the clusters for new users", function()
  local train, cases, s = rp.split.cold_users(ev, { fraction = 0.2, reveal = { 0 }, seed = 5 })
  local tm = train:to_matrix():binarize()
  local known = cases[1].known:to_matrix()
  local pop = rp.baseline.popularity(tm)
  local pshare = own_share((pop:recommend_all { users = s.users, k = 10, exclude = known }),
    s.users)
  local seg = rp.hybrid.segment_popularity(train, users, { field = { "age_band", "occupation" },
    shrinkage = 5, binary = true })
  local sshare = own_share((seg:recommend_all { users = s.users, k = 10, exclude = known }),
    s.users)
  local m = rp.als.train(tm, { factors = 16, regularization = 1, iterations = 10 })
  local p = rp.hybrid.project(m, nil, { user_features = users, train = tm })
  T.eq(p.info.projected_users, s.held_out)
  local ushare = own_share((p:recommend_all { users = s.users, k = 10, exclude = known }),
    s.users)
  T.ok(sshare > 2 * pshare, ("segment %.3f vs popularity %.3f"):format(sshare, pshare))
  T.ok(ushare > 2 * pshare and ushare > 1.5 / K, ("user projection %.3f vs popularity %.3f")
    :format(ushare, pshare))
end)

T.case("projection places new items near their cluster; random placement does not", function()
  local tr, te, info = rp.split.cold_items(ev, { fraction = 0.2, seed = 3 })
  local trm = tr:to_matrix():binarize()
  local m = rp.als.train(trm, { factors = 16, regularization = 1, iterations = 10 })
  local p = rp.hybrid.project(m, items, { regularization = 1, train = trm })
  local r = rp.hybrid.project(m, items, { method = "random", train = trm, seed = 1 })
  T.eq(p.info.projected_items + p.info.warm_items + p.info.unplaced_items, #ev.items)
  local cold = {}
  for _, it in ipairs(info.items) do cold[it] = true end
  -- mean factor of each cluster's warm items
  local V, f = p.item_factors, p.item_factors.cols
  local mean = {}
  for i = 1, V.rows do
    local id = ev.items:id(i)
    local cl = truth.item[id]
    if cl and not cold[id] then
      mean[cl] = mean[cl] or {}
      local row = V:row(i)
      for j = 1, f do mean[cl][j] = (mean[cl][j] or 0) + row[j] end
    end
  end
  local function accuracy(F)
    local ok, n = 0, 0
    for _, id in ipairs(info.items) do
      local row = F:row(ev.items:index(id))
      local best, bc = -math.huge, nil
      for cl, mu in pairs(mean) do
        local d, a, b = 0, 0, 0
        for j = 1, f do d, a, b = d + row[j] * mu[j], a + row[j] ^ 2, b + mu[j] ^ 2 end
        local cs = d / math.sqrt(a * b + 1e-30)
        if cs > best then best, bc = cs, cl end
      end
      n = n + 1
      if bc == truth.item[id] then ok = ok + 1 end
    end
    return ok / n
  end
  local pa, ra = accuracy(p.item_factors), accuracy(r.item_factors)
  T.ok(pa >= 0.7, ("projected cluster accuracy %.3f"):format(pa))
  T.ok(ra <= 0.4, ("random placement accuracy %.3f"):format(ra))
  -- and recommending among the new items: recall@20
  p:restrict(info.items)
  r:restrict(info.items)
  local test = te:to_matrix()
  local rp_ = rp.metrics.evaluate(p, trm, test, { k = 20, metrics = { "recall" } })
  local rr = rp.metrics.evaluate(r, trm, test, { k = 20, metrics = { "recall" } })
  T.ok(rp_.recall > 1.5 * rr.recall, ("recall@20 %.3f vs random %.3f"):format(rp_.recall,
    rr.recall))
end)

T.done()
