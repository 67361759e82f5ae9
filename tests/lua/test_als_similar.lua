-- similar_items / similar_users with candidates (items = / users =), their
-- batch forms similar_items_all / similar_users_all, and recommend_all with
-- items =, against cosines and scores computed here from the factors.
local rp = require "recpipe"
local T = require "recpipe.test"

local trip = {}
math.randomseed(3)
for u = 1, 30 do
  for _ = 1, 6 do trip[#trip + 1] = { "u" .. u, "i" .. math.random(1, 25), math.random(1, 3) } end
end
local train = rp.sparse.from_triplets(trip)
local m = rp.als.train(train, { factors = 5, iterations = 5, seed = 2 })

local function cos(F, a, b)
  local x, y, xy, xx, yy = F:row(a), F:row(b), 0, 0, 0
  for d = 1, #x do xy, xx, yy = xy + x[d] * y[d], xx + x[d] * x[d], yy + y[d] * y[d] end
  return xy / math.sqrt(xx * yy)
end

-- the expected list: candidates ranked by cosine, ties by index
local function expect(F, map, q, cands, k, self)
  local l = {}
  for _, id in ipairs(cands) do
    local r = map:index(id)
    if r and (self or id ~= q) then l[#l + 1] = { id = id, r = r, s = cos(F, map:index(q), r) } end
  end
  table.sort(l, function(a, b) return a.s > b.s or (a.s == b.s and a.r < b.r) end)
  local ids, sc = {}, {}
  for a = 1, math.min(k, #l) do ids[a], sc[a] = l[a].id, l[a].s end
  return ids, sc
end

T.case("similar_items with items = ranks only those", function()
  local cands = { "i3", "i7", "i1", "i12", "nope", "i7" }
  local ids, sc = m:similar_items("i1", { k = 3, items = cands })
  local want, ws = expect(m.item_factors, m.items, "i1", { "i3", "i7", "i1", "i12" }, 3, true)
  T.same(ids, want)
  for a = 1, #ws do T.near(sc[a], ws[a], 1e-5) end
  T.eq(ids[1], "i1") -- itself first (cosine 1)
  local ids2 = m:similar_items("i1", { k = 10, items = cands, include_self = false })
  T.eq(#ids2, 3)
  -- no candidate known: an empty list, not an error
  T.same({ m:similar_items("i1", { items = { "zz" } }) }, { {}, {} })
  local uids = m:similar_users("u2", { k = 2, users = { "u5", "u9", "u2" }, include_self = false })
  T.same(uids, (expect(m.user_factors, m.users, "u2", { "u5", "u9" }, 2, false)))
  T.errors(function() m:similar_items("i1", { users = { "u1" } }) end, "users")
end)

T.case("similar_items_all and similar_users_all equal the single calls", function()
  local items, scores = m:similar_items_all { items = { "i1", "i2", "nope" }, k = 4 }
  T.eq(items.nope, nil)
  for _, q in ipairs({ "i1", "i2" }) do
    local a, b = m:similar_items(q, { k = 4 })
    T.same(items[q], a)
    T.same(scores[q], b)
  end
  local restricted = m:similar_items_all { k = 2, candidates = { "i4", "i5", "i6" } }
  local n = 0
  for q, l in pairs(restricted) do
    n = n + 1
    T.same(l, (m:similar_items(q, { k = 2, items = { "i4", "i5", "i6" } })))
  end
  local with = 0 -- every item with factors is a query
  for i = 1, m.nitems do
    local nz = false
    for _, v in ipairs(m.item_factors:row(i)) do nz = nz or v ~= 0 end
    if nz then with = with + 1 end
  end
  T.eq(n, with)
  local users = m:similar_users_all { users = { "u1", "u3" }, k = 3, include_self = false }
  T.same(users.u3, (m:similar_users("u3", { k = 3, include_self = false })))
end)

T.case("recommend_all with items = equals recommend with items =", function()
  local cands = { "i2", "i4", "i6", "i8", "i10" }
  local all = m:recommend_all { users = { "u1", "u2", "u7" }, k = 3, items = cands, exclude = train }
  for _, u in ipairs({ "u1", "u2", "u7" }) do
    T.same(all[u], (m:recommend(u, { k = 3, items = cands, exclude = train })))
    for _, it in ipairs(all[u]) do
      local ok = false
      for _, c in ipairs(cands) do ok = ok or c == it end
      T.ok(ok, it)
    end
  end
end)

T.done()
