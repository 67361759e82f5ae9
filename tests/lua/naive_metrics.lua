-- The reference for the metric tests: every metric of rp.metrics straight
-- from its definition (README, api-metrics), in plain Lua, from the lists
-- a recommender returned.  Not a test itself: test_metrics.lua and
-- test_baseline.lua load it with dofile.
--   naive(lists, k, train, test[, threshold]) -> {metric = value, users = n}
-- lists: {user_id = {item ids best first}}; train, test: Matrices on the
-- same maps; the catalogue is the item map.
return function(lists, k, train, test, threshold)
  threshold = threshold or 0
  local users, items = test.users, test.items
  local NI = #items
  local log2 = function(x) return math.log(x) / math.log(2) end
  local pop, ntrain = {}, 0
  for u = 1, #users do
    local its = train:row(users:id(u))
    if its and #its > 0 then ntrain = ntrain + 1 end
    for _, it in ipairs(its or {}) do pop[it] = (pop[it] or 0) + 1 end
  end
  local sums, n, counts = {}, 0, {}
  local hits_all, m_all, auc_n, nov_n = 0, 0, 0, 0
  local function add(m, v) sums[m] = (sums[m] or 0) + v end
  for u = 1, #users do
    local uid = users:id(u)
    local its, vals = test:row(uid)
    local rel, t = {}, 0
    for j, it in ipairs(its or {}) do
      if vals[j] > threshold then rel[it] = true; t = t + 1 end
    end
    if t > 0 then
      n = n + 1
      local l = lists[uid] or {}
      local h, ap, dcg, first, aucm, nov = 0, 0, 0, nil, 0, 0
      for r = 1, k do
        local it = l[r]
        if it and rel[it] then
          h = h + 1
          ap = ap + h / r
          dcg = dcg + 1 / log2(r + 1)
          first = first or r
        else
          aucm = aucm + h
        end
        if it then
          counts[it] = (counts[it] or 0) + 1
          nov = nov - log2(math.max(pop[it] or 0, 1) / ntrain)
        end
      end
      local m = math.min(k, t)
      local idcg = 0
      for r = 1, m do idcg = idcg + 1 / log2(r + 1) end
      add("precision", h / k)
      add("recall", h / t)
      add("map", ap / m)
      add("ndcg", dcg / idcg)
      add("hit_rate", h > 0 and 1 or 0)
      add("mrr", first and 1 / first or 0)
      local nneg = NI - t
      if nneg > 0 then
        add("auc", (aucm + (h + t) / 2 * (nneg - (k - h))) / (t * nneg))
        auc_n = auc_n + 1
      end
      if #l > 0 then
        add("novelty", nov / math.min(#l, k))
        nov_n = nov_n + 1
      end
      hits_all, m_all = hits_all + h, m_all + m
    end
  end
  local out = { users = n }
  for m, v in pairs(sums) do out[m] = v / n end
  out.auc = auc_n > 0 and sums.auc / auc_n or nil
  out.novelty = nov_n > 0 and sums.novelty / nov_n or nil
  out.precision_pooled = hits_all / m_all
  local covered, c = 0, {}
  for i = 1, NI do
    local x = counts[items:id(i)] or 0
    if x > 0 then covered = covered + 1 end
    c[#c + 1] = x
  end
  out.coverage = covered / NI
  table.sort(c)
  local num, tot = 0, 0
  for i, x in ipairs(c) do num = num + (2 * i - NI - 1) * x; tot = tot + x end
  out.gini = tot > 0 and num / (NI * tot) or 0
  return out
end
