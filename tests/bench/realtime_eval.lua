-- Real-time signals (issue 13, recpipe serve's realtime = true): the
-- quality gain and the cost of folding a known user's new events into
-- their factors, on the example shop (examples/shop, make examples).
--
--   recpipe run tests/bench/realtime_eval.lua [factors] [iterations] [boost]
--
-- Quality: per-user time split (each user's newest 20% of events are the
-- test period, rp.split.per_user_time); for r = 1, 2, 3 every test user
-- with more than r test events has the first r revealed -- exactly what
-- the server's realtime path does with them: partial_fit_users of the
-- training row plus the revealed events weighted as in training -- and
-- NDCG@10 is measured on the items of the remaining test events (train
-- and revealed items excluded from both lists), against the frozen model
-- with the same exclusions.  Paired differences per user, mean and 95%
-- interval (normal approximation).
-- Cost: the refit of one user (the realtime path per user and event
-- batch) against one recommend (k = 10, train excluded), both measured
-- in this process, median over 2,000 users.
local rp = require "recpipe"
local factors, iterations = tonumber(arg[1]) or 32, tonumber(arg[2]) or 10
-- boost: revealed events weigh this many times their training weight (the
-- server: realtime_weights scaled alike)
local boost = tonumber(arg[3]) or 1
local W = { purchase = 5, addtocart = 3, view = 1 }
local path = "examples/shop/events.csv.gz"
if not io.open(path) then
  print("bench_realtime: " .. path .. " absent (make examples), skipped")
  return
end
local ev = rp.io.read_events(path, { user = "user_id", item = "item_id", time = "timestamp",
  event = "event", weights = W })
local train_ev, test_ev = rp.split.per_user_time(ev, { test_fraction = 0.2, min_history = 5 })
local train = train_ev:to_matrix { aggregate = "sum" }
local opts = { factors = factors, iterations = iterations, regularization = 0.05, seed = 42 }
local frozen = rp.als.train(train, opts)
local tmp = os.tmpname()
frozen:save(tmp)

-- the test period of each user, in time order
local per = {}
for i = 1, #test_ev do
  local r = test_ev:row(i)
  local l = per[r.user]
  if not l then l = {}; per[r.user] = l end
  l[#l + 1] = { item = r.item, value = r.value, time = r.time, n = i }
end
local users = {}
for u, l in pairs(per) do
  table.sort(l, function(a, b) return a.time < b.time or (a.time == b.time and a.n < b.n) end)
  if frozen.users:index(u) and #l > 1 then users[#users + 1] = u end
end
table.sort(users)

local function ndcg(list, rel, nrel)
  local dcg, idcg = 0, 0
  for p, it in ipairs(list or {}) do
    if rel[it] then dcg = dcg + 1 / math.log(p + 1, 2) end
  end
  for p = 1, math.min(10, nrel) do idcg = idcg + 1 / math.log(p + 1, 2) end
  return idcg > 0 and dcg / idcg or 0
end

print(("example shop: %d events, %d train, %d test; ALS f=%d, %d iterations; revealed x%g")
  :format(#ev, #train_ev, #test_ev, factors, iterations, boost))
print("| revealed | users | frozen NDCG@10 | realtime NDCG@10 | difference [95% interval] |")
print("|---|---|---|---|---|")
for r = 1, 3 do
  local live = rp.als.load(tmp)
  local ids, trip, cases = {}, {}, {}
  for _, u in ipairs(users) do
    local l = per[u]
    if #l > r then
      local revealed, seen = {}, {}
      for a = 1, r do revealed[#revealed + 1] = l[a].item; seen[l[a].item] = true end
      local rel, nrel = {}, 0
      local titems = train:row(u) or {}
      local intrain = {}
      for _, it in ipairs(titems) do intrain[it] = true end
      for a = r + 1, #l do
        local it = l[a].item
        if not rel[it] and not seen[it] and not intrain[it] then rel[it] = true; nrel = nrel + 1 end
      end
      if nrel > 0 then
        ids[#ids + 1] = u
        local items, vals = train:row(u)
        for a, it in ipairs(items) do trip[#trip + 1] = { u, it, vals[a] } end
        for a = 1, r do trip[#trip + 1] = { u, l[a].item, boost * l[a].value } end
        cases[#cases + 1] = { u = u, deny = revealed, rel = rel, nrel = nrel }
      end
    end
  end
  live:partial_fit_users(ids, rp.sparse.from_triplets(trip, { items = live.items }))
  local n, sf, sl, sd, sdd = 0, 0, 0, 0, 0
  for _, c in ipairs(cases) do
    local q = { k = 10, exclude = train, deny = c.deny }
    local f = ndcg((frozen:recommend(c.u, q)), c.rel, c.nrel)
    local g = ndcg((live:recommend(c.u, q)), c.rel, c.nrel)
    n, sf, sl, sd, sdd = n + 1, sf + f, sl + g, sd + (g - f), sdd + (g - f) ^ 2
  end
  local mean = sd / n
  local half = 1.96 * math.sqrt((sdd / n - mean * mean) * n / (n - 1) / n)
  print(("| %d | %d | %.4f | %.4f | %+.4f [%+.4f, %+.4f] |"):format(r, n, sf / n, sl / n, mean,
    mean - half, mean + half))
end

-- cost: one user's refit against one recommend, median over 2,000 users
local live = rp.als.load(tmp)
local tf, tr = {}, {}
for a = 1, math.min(2000, #users) do
  local u = users[a]
  local items, vals = train:row(u)
  local trip = {}
  for b, it in ipairs(items) do trip[b] = { u, it, vals[b] } end
  trip[#trip + 1] = { u, per[u][1].item, per[u][1].value }
  local m = rp.sparse.from_triplets(trip, { items = live.items })
  local t0 = rp.clock()
  live:partial_fit_users({ u }, m)
  tf[#tf + 1] = rp.clock() - t0
  t0 = rp.clock()
  live:recommend(u, { k = 10, exclude = train })
  tr[#tr + 1] = rp.clock() - t0
end
table.sort(tf)
table.sort(tr)
local mf, mr = tf[(#tf + 1) // 2], tr[(#tr + 1) // 2]
print(("refit of one user: median %.1f us; recommend: median %.1f us; refit / recommend %.2f")
  :format(1e6 * mf, 1e6 * mr, mf / mr))
os.remove(tmp)
