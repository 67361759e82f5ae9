-- Real-time signals (issue 13, recpipe serve's realtime = true): the quality
-- gain and the cost of folding a known user's new events into the model, on
-- the example shop (examples/shop, make examples).
--
--   recpipe run tests/bench/realtime_eval.lua [factors] [iterations] [weight] [part]
--
-- weight: realtime_session_weight (bench_realtime.sh passes the server's
-- default, read from `recpipe serve --help`); part: "test" (users with an
-- odd number: the reported ones) or "val" (even numbers: where the weight
-- was chosen).
--
-- Quality: per-user time split (each user's newest 20% of events are the
-- test period, rp.split.per_user_time); for r = 1, 2, 3 every test user of
-- the part with more than r test events has the first r revealed, and the
-- model gets exactly what the server does with them on POST /v1/events:
-- partial_fit_users of the training row plus the revealed events weighted
-- as in training, then set_session with the revealed items and the weight
-- (the same C functions realtime.c calls; tests/e2e/serve_realtime.sh
-- checks that the server's answer equals this).  NDCG@10 on the items of
-- the remaining test events, train items excluded from the lists and from
-- the relevant items, against the frozen model, two ways:
--   server: the lists as the server answers (the revealed items may be
--           recommended; when they come back in the rest -- a re-view, an
--           add-to-cart, a purchase -- they count);
--   new:    the revealed items denied in both lists and not relevant: the
--           gain on items the user has not touched yet.
-- Paired differences per user, mean and 95% interval (normal approximation).
-- Cost: the refit plus the session of one user (the realtime path per user
-- and event batch) against one recommend (k = 10, train excluded), both
-- measured in this process, median over 2,000 users.
local rp = require "recpipe"
local factors, iterations = tonumber(arg[1]) or 32, tonumber(arg[2]) or 10
local weight = assert(tonumber(arg[3]), "the session weight (argument 3) is required")
local part = arg[4] or "test"
assert(part == "test" or part == "val", "part (argument 4) must be test or val")
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

-- the test period of each user of the part, in time order
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
  local odd = tonumber(u:match("%d+")) % 2 == 1
  if frozen.users:index(u) and #l > 1 and odd == (part == "test") then users[#users + 1] = u end
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

-- paired statistics: add(frozen, other), then the row
local function pairs_acc() return { n = 0, f = 0, g = 0, d = 0, dd = 0 } end
local function acc(s, f, g)
  s.n, s.f, s.g, s.d, s.dd = s.n + 1, s.f + f, s.g + g, s.d + (g - f), s.dd + (g - f) ^ 2
end
local function row(label, r, s)
  local mean = s.d / s.n
  local half = 1.96 * math.sqrt((s.dd / s.n - mean * mean) * s.n / (s.n - 1) / s.n)
  print(("| %s | %d | %d | %.4f | %.4f | %+.4f [%+.4f, %+.4f] |"):format(label, r, s.n, s.f / s.n,
    s.g / s.n, mean, mean - half, mean + half))
end

print(("example shop: %d events, %d train, %d test; ALS f=%d, %d iterations; %s users (%s "
  .. "numbers); realtime_session_weight %g"):format(#ev, #train_ev, #test_ev, factors, iterations,
  part, part == "test" and "odd" or "even", weight))
print("| lists | revealed | users | frozen NDCG@10 | realtime NDCG@10 | difference [95% interval] |")
print("|---|---|---|---|---|---|")
local rows = {}
for r = 1, 3 do
  local live, refit = rp.als.load(tmp), rp.als.load(tmp)
  local ids, trip, cases = {}, {}, {}
  for _, u in ipairs(users) do
    local l = per[u]
    if #l > r then
      local revealed, isrev = {}, {}
      for a = 1, r do revealed[a] = l[a].item; isrev[l[a].item] = true end
      local intrain = {}
      for _, it in ipairs((train:row(u)) or {}) do intrain[it] = true end
      -- relevant: the rest's items not in train (server), and not revealed (new)
      local rel, nrel, reln, nreln = {}, 0, {}, 0
      for a = r + 1, #l do
        local it = l[a].item
        if not intrain[it] and not rel[it] then rel[it] = true; nrel = nrel + 1 end
        if not intrain[it] and not isrev[it] and not reln[it] then reln[it] = true; nreln = nreln + 1 end
      end
      if nrel > 0 then
        ids[#ids + 1] = u
        local items, vals = train:row(u)
        for a, it in ipairs(items) do trip[#trip + 1] = { u, it, vals[a] } end
        for a = 1, r do trip[#trip + 1] = { u, l[a].item, l[a].value } end
        cases[#cases + 1] = { u = u, revealed = revealed, rel = rel, nrel = nrel, reln = reln,
          nreln = nreln }
      end
    end
  end
  local m = rp.sparse.from_triplets(trip, { items = live.items })
  live:partial_fit_users(ids, m)
  refit:partial_fit_users(ids, m)
  for _, c in ipairs(cases) do live:set_session(c.u, c.revealed, weight) end
  local server, only_refit, new = pairs_acc(), pairs_acc(), pairs_acc()
  for _, c in ipairs(cases) do
    local q = { k = 10, exclude = train }
    local f = ndcg((frozen:recommend(c.u, q)), c.rel, c.nrel)
    acc(server, f, ndcg((live:recommend(c.u, q)), c.rel, c.nrel))
    acc(only_refit, f, ndcg((refit:recommend(c.u, q)), c.rel, c.nrel))
    if c.nreln > 0 then
      local qd = { k = 10, exclude = train, deny = c.revealed }
      acc(new, ndcg((frozen:recommend(c.u, qd)), c.reln, c.nreln),
        ndcg((live:recommend(c.u, qd)), c.reln, c.nreln))
    end
  end
  rows[r] = { server, only_refit, new }
end
for r = 1, 3 do row("server", r, rows[r][1]) end
for r = 1, 3 do row("server, weight 0 (refit alone)", r, rows[r][2]) end
for r = 1, 3 do row("new (revealed denied)", r, rows[r][3]) end

-- cost: one user's refit and session against one recommend, median over
-- 2,000 users
local live = rp.als.load(tmp)
local tf, tr = {}, {}
for a = 1, math.min(2000, #users) do
  local u = users[a]
  local items, vals = train:row(u)
  local trip = {}
  for b, it in ipairs(items) do trip[b] = { u, it, vals[b] } end
  trip[#trip + 1] = { u, per[u][1].item, per[u][1].value }
  local m = rp.sparse.from_triplets(trip, { items = live.items })
  local session = { per[u][1].item }
  local t0 = rp.clock()
  live:partial_fit_users({ u }, m)
  live:set_session(u, session, weight)
  tf[#tf + 1] = rp.clock() - t0
  t0 = rp.clock()
  live:recommend(u, { k = 10, exclude = train })
  tr[#tr + 1] = rp.clock() - t0
end
table.sort(tf)
table.sort(tr)
local mf, mr = tf[(#tf + 1) // 2], tr[(#tr + 1) // 2]
print(("refit + session of one user: median %.1f us; recommend (with the session): median "
  .. "%.1f us; refit / recommend %.2f"):format(1e6 * mf, 1e6 * mr, mf / mr))
os.remove(tmp)
