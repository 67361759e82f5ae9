-- The recommender protocol, once for every kind written in C (ALS models,
-- baselines, hybrids all go through runtime/rpl_rec.c): the same options,
-- the same errors, recommend_all equal to recommend user by user, keys as
-- given, k beyond the catalogue, unknown users.
local rp = require "recpipe"
local T = require "recpipe.test"

local dir = T.tmpdir()

-- numeric ids on purpose: users 1..40, items 101..130, two taste groups
local function make_log()
  local lines = { "user,item,value" }
  math.randomseed(11)
  for u = 1, 40 do
    local base = u <= 20 and 100 or 115
    for _ = 1, 6 do lines[#lines + 1] = ("%d,%d,1"):format(u, base + math.random(1, 15)) end
  end
  return T.write(dir .. "/log.csv", table.concat(lines, "\n") .. "\n")
end

local ev = rp.io.read_events(make_log())
local train = ev:to_matrix()
local attrs = {}
for i = 101, 130 do attrs[#attrs + 1] = ("%d,%s"):format(i, i <= 115 and "a" or "b") end
local feats = rp.hybrid.attributes(T.write(dir .. "/items.csv",
  "id,group\n" .. table.concat(attrs, "\n") .. "\n"), { map = ev.items, fields = { group = true } })

local recs = {
  als = rp.als.train(train, { factors = 4, iterations = 5, seed = 3 }),
  popularity = rp.baseline.popularity(train),
  random = rp.baseline.random(train, { seed = 1 }),
  item_knn = rp.baseline.item_knn(train, { k = 10 }),
  content = rp.hybrid.content(train, feats),
}
local NITEMS = train.ncols

T.case("the same option errors everywhere", function()
  for name, r in pairs(recs) do
    T.errors(function() r:recommend("1", { k = 0 }) end,
      "field 'k' must be an integer in 1..16777216, got 0", name)
    T.errors(function() r:recommend("1", { kk = 1 }) end, "unknown option 'kk'", name)
    T.errors(function() r:recommend("1", { exclude = 5 }) end,
      "field 'exclude' must be a recpipe.Matrix or false, got number", name)
    T.errors(function() r:recommend("1", { exclude = true }) end,
      "field 'exclude' must be a recpipe.Matrix or false, got boolean", name)
    -- exclude = false: nothing excluded, the same as no exclude
    local a, sa = r:recommend("1", { k = 5 })
    local b, sb = r:recommend("1", { k = 5, exclude = false })
    T.same(b, a, name)
    T.same(sb, sa, name)
    local all = r:recommend_all { users = { "1" }, k = 5, exclude = false }
    T.same(all["1"], a, name)
    T.errors(function() r:recommend("1", { deny = "101" }) end,
      "field 'deny' must be a list of ids, got '101'", name)
    T.errors(function() r:recommend("1", { items = true }) end,
      "field 'items' must be a list of ids, got true", name)
    T.errors(function() r:recommend_all { users = "1" } end,
      "field 'users' must be a list of ids, got string", name)
    T.errors(function() r:recommend_all { threads = -1 } end, "field 'threads'", name)
    T.errors(function() r:recommend_all { k = 1 << 25 } end, "field 'k'", name)
    T.errors(function() r:recommend_all { filter_seen = true } end,
      "unknown option 'filter_seen' (known: users, k, exclude, threads", name)
  end
end)

T.case("recommend_all equals recommend user by user; keys as given", function()
  local users = { 1, "2", "21", 40, 2 } -- numbers and strings, a repeat
  for name, r in pairs(recs) do
    local all, sc = r:recommend_all { users = users, k = 5, exclude = train }
    for _, u in ipairs(users) do
      local it, s = r:recommend(u, { k = 5, exclude = train })
      T.same(all[u], it, name .. " " .. u)
      T.same(sc[u], s, name .. " " .. u)
    end
    T.eq(all["1"], nil, name .. ": keyed by the id as given")
    -- no users given: every user of the map, keyed by the map's ids
    local every = r:recommend_all { k = 3, exclude = train }
    local n = 0
    for u, list in pairs(every) do
      n = n + 1
      T.eq(math.type(u), nil, name)
      T.same(list, (r:recommend(u, { k = 3, exclude = train })), name .. " " .. u)
    end
    T.eq(n, 40, name)
  end
end)

T.case("k beyond the catalogue gives what there is", function()
  for name, r in pairs(recs) do
    local it = r:recommend("3", { k = 1 << 24 })
    T.ok(#it <= NITEMS and #it > 0, name)
    local seen = {}
    for _, x in ipairs(it) do
      T.ok(not seen[x], name .. ": distinct")
      seen[x] = true
    end
    local all = r:recommend_all { users = { "3" }, k = 1 << 24 }
    T.same(all["3"], it, name)
  end
end)

T.case("allow and deny lists; unknown ids in them are ignored", function()
  for name, r in pairs(recs) do
    local top = r:recommend("5", { k = 4 })
    local denied = r:recommend("5", { k = 3, deny = { top[1], "nope" } })
    T.eq(denied[1], top[2], name)
    local allowed = r:recommend("5", { k = 10, items = { top[3], top[1], "nope" } })
    T.same(allowed, { top[1], top[3] }, name)
    -- nothing left: an empty list, except hybrids, which say they cannot answer
    local empty, why = r:recommend("5", { items = {} })
    if name == "content" then
      T.eq(why, "content: nothing to recommend for user '5'")
    else
      T.same(empty, {}, name)
    end
  end
end)

T.case("unknown users", function()
  for name, r in pairs(recs) do
    local none, msg = r:recommend("stranger")
    local all = r:recommend_all { users = { "stranger", "7" }, k = 2 }
    T.ok(all["7"] ~= nil, name)
    if name == "popularity" or name == "random" then
      T.eq(#none, 10, name) -- answers anyone
      T.eq(#all.stranger, 2, name)
    else
      T.eq(none, nil, name)
      T.ok(msg:find("'stranger'", 1, true), name)
      T.eq(all.stranger, nil, name)
    end
  end
end)

T.case("__recommender", function()
  for name, r in pairs(recs) do T.eq(type(r:__recommender()), "userdata", name) end
end)

T.done()
