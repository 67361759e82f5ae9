-- rp.hybrid from Lua: attribute files, every recommender through the
-- recommender protocol, blends (Lua and C paths agree), chains, the
-- cold-start splits, and bad arguments.
local rp = require "recpipe"
local T = require "recpipe.test"

local dir = T.tmpdir()

-- a small log: users a..e, items 1..6 (items 5, 6 only in attributes)
local log = T.write(dir .. "/log.csv", table.concat({
  "user,item,value,time",
  "a,1,1,100", "a,2,1,200", "a,3,1,300",
  "b,1,1,100", "b,2,1,150",
  "c,3,1,100", "c,4,1,400",
  "d,4,1,500", "d,3,1,600", "d,1,1,700",
  "e,2,1,800",
}, "\n") .. "\n")
local items_csv = T.write(dir .. "/items.csv", table.concat({
  "id,category,tags,price,title",
  "1,shoes,red|sport,10,Red Runner",
  "2,shoes,sport,20,Blue Runner",
  "3,hats,red,5,Red Hat",
  "4,hats,,50,Sun Hat",
  "5,shoes,sport,15,Trail Runner",
  "9,bags,,1,Tote",
}, "\n") .. "\n")
local users_csv = T.write(dir .. "/users.csv",
  "id,age,gender\na,20,f\nb,22,f\nc,40,m\nd,45,m\n")

local function ev() return rp.io.read_events(log, { value = "value", time = "time" }) end

local ITEM_FIELDS = { category = true, tags = { sep = "|" }, price = { buckets = { 10, 30 } },
                      title = { tokens = true } }

T.case("attributes: fields, map alignment, report, inspection", function()
  local e = ev()
  local f, rep = rp.hybrid.attributes(items_csv, { map = e.items, fields = ITEM_FIELDS })
  T.eq(tostring(f):match("^recpipe.Features") ~= nil, true)
  T.eq(#f, 4)                       -- the map's four items
  T.eq(f.nrows, 4)
  T.eq(rep.lines, 6)
  T.eq(rep.used, 4)
  T.eq(rep.unknown, 2)              -- 5 and 9 are not in the log
  T.eq(rep.unknown_ids, 2)
  T.eq(rep.missing, 0)
  T.eq(rep.empty, 1)                -- tags of 4 (9 is not read: unknown)
  T.eq(#rep.first, 2)
  T.ok(rep.first[1]:find("id '5' is not in the map", 1, true))
  T.same(f.report, rep)
  local names, values = f:row("1")
  local set = {}
  for j, n in ipairs(names) do set[n] = values[j] end
  T.same(set, { ["category=shoes"] = 1, ["tags=red"] = 1, ["tags=sport"] = 1,
                ["price=[10,30)"] = 1, ["title=red"] = 1, ["title=runner"] = 1 })
  local a = f:attributes("1")
  T.eq(a.category, "shoes")
  T.same(a.tags, { "red", "sport" })
  T.eq(a.price, "[10,30)")
  T.eq(f:attributes("zz"), nil)
  local none, msg = f:row("zz")
  T.eq(none, nil)
  T.ok(msg:find("unknown id", 1, true))
  T.same(f:fields(), { "category", "price", "tags", "title" })
  T.eq(#f:names(), f.nfeatures)
  local m = f:matrix()
  T.eq(m.nrows, 4)
  T.eq(m.nnz, f.nnz)
  -- extend: the two new items join the log's map (how new items arrive)
  local g, rep2 = rp.hybrid.attributes(items_csv, { map = e.items, fields = ITEM_FIELDS,
    extend = true })
  T.eq(rep2.added, 2)
  T.eq(#e.items, 6)
  T.eq(#g, 6)
  T.eq(g:attributes("9").category, "bags")
  -- list form of fields, tf-idf and normalisation
  local h = rp.hybrid.attributes(items_csv, { fields = { "category" }, normalize = true,
    tfidf = true })
  local _, v = h:row("4")
  T.near(v[1], 1, 1e-6)
end)

T.case("attributes: bad input is a clear error or a counted skip", function()
  T.errors(function() rp.hybrid.attributes(items_csv, { fields = { colour = true } }) end,
    "field column 'colour' not found in the header (columns: id, category, tags, price, title)")
  T.errors(function() rp.hybrid.attributes(items_csv, { fields = { category = true },
    id = "sku" }) end, "id column 'sku' not found")
  T.errors(function() rp.hybrid.attributes(items_csv, { fields = { category = true },
    colour = 1 }) end, "unknown option 'colour'")
  T.errors(function() rp.hybrid.attributes(items_csv, { fields = { price = { bucket = 3 } } }) end,
    "unknown option 'bucket'")
  T.errors(function() rp.hybrid.attributes(items_csv, { fields = { price = { sep = "|",
    tokens = true } } }) end, "choose one of sep, buckets, tokens, flags")
  T.errors(function() rp.hybrid.attributes(items_csv, { fields = { category = 3 } }) end,
    "must be true or a table")
  T.errors(function() rp.hybrid.attributes(items_csv, {}) end, "field 'fields'")
  T.errors(function() rp.hybrid.attributes(dir .. "/missing.csv", { fields = { a = true } }) end,
    "missing.csv")
  local bad = T.write(dir .. "/bad.csv", "id,age\nx,20\ny,old\nz\n,30\nw,31\n")
  T.errors(function() rp.hybrid.attributes(bad, { fields = { age = { buckets = { 25 } } } }) end,
    "bad.csv:3: field 'age': 'old' is not a number")
  local f, rep = rp.hybrid.attributes(bad, { fields = { age = { buckets = { 25 } } },
    on_error = "skip" })
  T.eq(rep.skipped, 3)
  T.eq(rep.used, 2)
  T.eq(#f, 2)
  T.ok(rep.first[2]:find("bad.csv:4: expected 2 fields, found 1", 1, true))
  T.ok(rep.first[3]:find("bad.csv:5: empty id", 1, true))
  -- the line cap (issue 8): a clear error naming the line
  local long = T.write(dir .. "/long.csv", "id,age\nx,20\n" .. ("y"):rep(50) .. ",30\n")
  T.eq(#rp.hybrid.attributes(long, { fields = { age = true }, max_line_bytes = 53 }), 2)
  T.errors(function() rp.hybrid.attributes(long, { fields = { age = true }, max_line_bytes = 52,
    on_error = "skip" }) end, "long.csv:3: line longer than max_line_bytes (52)")
  T.errors(function() rp.hybrid.attributes(long, { fields = { age = true }, max_line_bytes = 0 })
  end, "max_line_bytes must be a positive number of bytes, got 0")
end)

T.case("content: cosine with the profile, history from exclude, options", function()
  local e = ev()
  local f = rp.hybrid.attributes(items_csv, { map = e.items, fields = { category = true } })
  local train = e:to_matrix()
  local c = rp.hybrid.content(train, f)
  T.eq(c.kind, "content")
  T.eq(c.name, "content")
  -- b took 1, 2 (shoes): profile = shoes; unseen items 3, 4 are hats (cosine 0)
  local items, scores = c:recommend("b", { k = 3, exclude = train })
  T.same(items, { "3", "4" })    -- ties broken by popularity: 3 taken by 3 users, 4 by 2
  T.near(scores[1], 0, 1e-9)
  -- c took 3, 4 (hats): with exclusion nothing of its own category is left
  items = c:recommend("c", { k = 2 })
  T.same(items, { "3", "4" })
  -- a history given in the request (a user the log does not know)
  items, scores = c:recommend("newbie", { history = { "3" }, k = 2 })
  T.same(items, { "4", "1" })
  T.near(scores[1], 1, 1e-6)
  -- unknown user without history
  local none, msg = c:recommend("nobody")
  T.eq(none, nil)
  T.ok(msg:find("unknown user", 1, true))
  -- items / deny
  items = c:recommend("b", { k = 5, items = { "4", "1" } })
  T.same(items, { "1", "4" })
  items = c:recommend("b", { k = 5, deny = { "1" } })
  T.ok(items[1] == "2")
  -- restrict: only these candidates from now on
  c:restrict { "3", "4" }
  items = c:recommend("b", { k = 5 })
  T.same(items, { "3", "4" })
  items = c:recommend("b", { k = 5, items = { "1", "4" } })  -- within the restriction
  T.same(items, { "4" })
  c:restrict(nil)
  -- recommend_all agrees with recommend
  local all, sc = c:recommend_all { users = { "a", "b", "zz" }, k = 3, exclude = train }
  T.eq(all.zz, nil)
  for _, u in ipairs { "a", "b" } do
    local it, s = c:recommend(u, { k = 3, exclude = train })
    T.same(all[u], it)
    for j = 1, #s do T.near(sc[u][j], s[j], 1e-6) end
  end
  T.eq(type(c:__recommender()), "userdata")
  T.errors(function() c:recommend("a", { k = 0 }) end, "field 'k'")
  T.errors(function() c:recommend("a", { kk = 1 }) end, "unknown option 'kk'")
  T.errors(function() rp.hybrid.content(train, f, { half_life_days = 3 }) end,
    "half_life_days needs Events")
  local other = rp.hybrid.attributes(items_csv, { fields = { category = true } })
  T.errors(function() rp.hybrid.content(train, other) end, "map = ev.items")
  -- time-decayed profile from Events
  local cd = rp.hybrid.content(e, f, { half_life_days = 1 })
  T.ok(cd:recommend("a", { k = 1 }))
  c:free()
  T.errors(function() c:recommend("a") end, "freed")
end)

T.case("item-kNN through content over interaction features", function()
  local e = ev()
  local train = e:to_matrix()
  local ix = rp.hybrid.interaction_features(train)
  T.eq(#ix, 4)
  T.eq(ix.nfeatures, 5)
  local knn = rp.hybrid.content(train, ix, { binary = true })
  -- naive: score(j) = sum over history items i of cos(users(i), users(j))
  local cols = {}
  for _, u in ipairs(e.users:ids()) do
    for _, it in ipairs(train:row(u)) do
      cols[it] = cols[it] or {}
      cols[it][u] = true
    end
  end
  local function cos(i, j)
    local n, a, b = 0, 0, 0
    for u in pairs(cols[i]) do a = a + 1; if cols[j][u] then n = n + 1 end end
    for _ in pairs(cols[j]) do b = b + 1 end
    return n / math.sqrt(a * b)
  end
  local items = knn:recommend("e", { k = 3, exclude = train })
  local want = {}
  for _, j in ipairs { "1", "3", "4" } do want[#want + 1] = { j, cos("2", j) } end
  table.sort(want, function(x, y) if x[2] ~= y[2] then return x[2] > y[2] end return x[1] < y[1] end)
  T.eq(items[1], want[1][1])
end)

T.case("segment popularity and trending", function()
  local e = ev()
  local users = rp.hybrid.attributes(users_csv, { map = e.users,
    fields = { age = { buckets = { 30 } }, gender = true } })
  local seg = rp.hybrid.segment_popularity(e, users, { field = "gender", shrinkage = 0 })
  T.eq(seg.kind, "segment")
  T.eq(seg:segment_of("a"), "gender=f")
  T.eq(seg:segment_of("e"), nil)
  -- women (a, b) took 1 and 2 twice each, 3 once
  local items, scores = seg:recommend("a", { k = 3 })
  T.same(items, { "1", "2", "3" })
  T.near(scores[1], 1, 1e-6)
  T.near(scores[3], 0.5, 1e-6)
  -- e has no segment: global popularity (count of users / users with history)
  items, scores = seg:recommend("e", { k = 1 })
  T.eq(items[1], "1")
  T.near(scores[1], 3 / 5, 1e-6)
  local seg2 = rp.hybrid.segment_popularity(e, users, { field = { "age", "gender" } })
  T.eq(seg2:segment_of("d"), "age=>=30&gender=m")
  local strict = rp.hybrid.segment_popularity(e, users, { field = "age", strict = true })
  T.eq(strict:recommend("e"), nil)
  local pop = rp.hybrid.segment_popularity(e:to_matrix())
  T.eq(pop.kind, "popularity")
  T.errors(function() rp.hybrid.segment_popularity(e, users, { field = "height" }) end,
    "'height' is not a field")
  T.errors(function() rp.hybrid.segment_popularity(e, nil, { field = "age" }) end,
    "needs user features")
  -- trending: at time 150, only events up to 150 count
  local at = rp.io.read_events(T.write(dir .. "/at.csv", "user,item,time\nb,1,150\n"),
    { time = "time", users = e.users, items = e.items })
  local tr = rp.hybrid.trending(e, { half_life_days = 1, at = at })
  items = tr:recommend("b", { k = 5 })
  T.same(items, { "1", "2", "3" })   -- 4 not taken before 150, 3 once at 100 (1 at 100 twice)
  items = tr:recommend("a", { k = 1 })  -- at now = 800: item 2 (taken at 800)
  T.eq(items[1], "2")
  T.errors(function() rp.hybrid.trending(e:to_matrix()) end, "recpipe.Events expected")
end)

T.case("request-time attributes for users the attribute file does not know", function()
  local e = ev()
  local users = rp.hybrid.attributes(users_csv, { map = e.users,
    fields = { age = { buckets = { 30 } }, gender = true } })
  local seg = rp.hybrid.segment_popularity(e, users, { field = "gender", shrinkage = 0 })
  local pop = rp.baseline.popularity(e:to_matrix()) -- answers anyone
  -- men (c, d) took 3 and 4 twice each, 1 once; women 1 and 2 twice, 3 once
  local men, women = { "3", "4", "1" }, { "1", "2", "3" }
  T.same(seg:recommend("visitor", { k = 3, attributes = { gender = "m" } }), men)
  T.same(seg:recommend("e", { k = 3, attributes = { gender = "m" } }), men)
  T.same(seg:recommend("e", { k = 3, attributes = { gender = "f" } }), women)
  local chain = rp.hybrid.chain {
    { when = function(ctx) return ctx.attributes.gender == "m" end, use = seg, label = "men" },
    { use = pop }, attributes = users }
  -- a visitor (not on the map) and e (on the map, no row in the file): the
  -- request's attributes route them and find their segment
  for _, u in ipairs { "visitor", "e" } do
    local items, _, why = chain:recommend(u, { k = 3, attributes = { gender = "m" } })
    T.same(items, men, u)
    T.eq(why, "men", u)
    local _, _, why2 = chain:recommend(u, { k = 3 })
    T.eq(why2, "popularity", u)
  end
  -- the file wins for a user it knows (a is a woman)
  local items, _, why = chain:recommend("a", { k = 3, attributes = { gender = "m" } })
  T.eq(why, "popularity")
  T.eq(#items, 3)
  T.errors(function() seg:recommend("e", { attributes = "m" }) end,
    "field 'attributes' must be a table of field = value")
end)

T.case("blend: the Lua path and the C path agree", function()
  local e = ev()
  local train = e:to_matrix()
  local f = rp.hybrid.attributes(items_csv, { map = e.items, fields = ITEM_FIELDS })
  local c = rp.hybrid.content(train, f)
  local p = rp.hybrid.segment_popularity(train)
  for _, norm in ipairs { "rank", "zscore", "none" } do
    local b = rp.hybrid.blend { { c, 0.7 }, { p, 0.3 }, normalize = norm, depth = 3 }
    T.eq(type(b:__recommender()), "userdata")
    local all, sc = b:recommend_all { users = { "a", "b", "c", "d", "e" }, k = 3,
                                      exclude = train }
    for _, u in ipairs { "a", "b", "c", "d", "e" } do
      local it, s = b:recommend(u, { k = 3, exclude = train })
      T.same(it, all[u], norm .. " " .. u)
      for j = 1, #s do T.near(s[j], sc[u][j], 1e-5) end
    end
  end
  -- rank by hand for "b": content lists 3, 4 (rank 1, 2), popularity 3, 4 too
  local b = rp.hybrid.blend { { c, 1 }, { p, 1 } }
  local it, s = b:recommend("b", { k = 2, exclude = train })
  T.same(it, { "3", "4" })
  T.near(s[1], 2, 1e-9)
  T.near(s[2], 2 * (1 - 1 / 100), 1e-9)
  -- a blend with a Lua source has no C path but answers the same way
  local lua_src = { recommend = function(_, u, o) return p:recommend(u, o) end }
  local bl = rp.hybrid.blend { { c, 1 }, { lua_src, 1 } }
  T.eq(bl.__recommender, nil)
  local all = bl:recommend_all { users = { "b" }, k = 2, exclude = train }
  T.same(all.b, { "3", "4" })
  T.errors(function() rp.hybrid.blend {} end, "a list of {recommender, weight}")
  T.errors(function() rp.hybrid.blend { { c, 1 }, normalize = "max" } end,
    "field 'normalize' must be one of")
  T.errors(function() rp.hybrid.blend { { c, -1 } } end, "weight of source 1")
  T.errors(function() rp.hybrid.blend { { 42, 1 } } end, "expected a recommender")
  T.errors(function() rp.hybrid.blend { { c, 1 }, depth = 0 } end, "field 'depth'")
end)

T.case("chain: first matching rule answers, with a reason; fall through on no answer", function()
  local e = ev()
  local train = e:to_matrix()
  local users = rp.hybrid.attributes(users_csv, { map = e.users, fields = { gender = true } })
  local f = rp.hybrid.attributes(items_csv, { map = e.items, fields = { category = true } })
  local c = rp.hybrid.content(train, f)
  local seg = rp.hybrid.segment_popularity(train, users, { field = "gender", strict = true })
  local pop = rp.hybrid.segment_popularity(train)
  local seen = {}
  local chain = rp.hybrid.chain {
    { when = function(ctx) seen[ctx.user] = ctx; return ctx.context.vip end, use = pop,
      label = "vip" },
    { when = function(ctx) return ctx.n >= 3 end, use = c },
    { when = function(ctx) return ctx.attributes.gender ~= nil end, use = seg },
    { use = pop },
    train = train, attributes = users,
  }
  local items, scores, why = chain:recommend("a", { k = 2, exclude = train })
  T.eq(why, "content")
  T.same(items, { "4" })            -- a took the three others
  T.eq(seen.a.n, 3)
  T.eq(seen.a.known, true)
  T.eq(seen.a.attributes.gender, "f")
  _, _, why = chain:recommend("b", { k = 2, exclude = train })
  T.eq(why, "segment")
  _, _, why = chain:recommend("e", { k = 2, exclude = train })
  T.eq(why, "popularity")       -- e has no gender: the last rule
  _, _, why = chain:recommend("b", { k = 2, context = { vip = true } })
  T.eq(why, "vip")
  -- a new user with a history in the request: n counts it
  _, _, why = chain:recommend("zz", { k = 2, history = { "1", "2", "3" } })
  T.eq(why, "content")
  T.eq(seen.zz.known, false)
  -- recommend_all: same lists and reasons; a rule that cannot answer passes on
  local fail_first = rp.hybrid.chain { { use = seg }, { use = pop } }
  local all, sc, reasons = fail_first:recommend_all { users = { "a", "e" }, k = 2 }
  T.eq(reasons.a, "segment")
  T.eq(reasons.e, "popularity")
  T.same(all.e, (pop:recommend("e", { k = 2 })))
  local it, _, r = fail_first:recommend("e", { k = 2 })
  T.same(it, all.e)
  T.eq(r, "popularity")
  -- with an ALS model the reason is "cf"
  if rp.als then
    local m = rp.als.train(train, { factors = 4, iterations = 2 })
    local ch = rp.hybrid.chain { { use = m } }
    _, _, r = ch:recommend("a", { k = 2 })
    T.eq(r, "cf")
    -- a chain with a train matrix never returns seen items, whichever rule
    -- answers: exclude defaults to train (the ALS model alone would not)
    local seen_a = {}
    for _, i in ipairs((train:row("a"))) do seen_a[i] = true end
    local chtrain = rp.hybrid.chain { { use = m }, train = train }
    local got = chtrain:recommend("a", { k = 10 })
    T.same(got, (m:recommend("a", { k = 10, exclude = train })))
    for _, i in ipairs(got) do T.ok(not seen_a[i], "seen item " .. i .. " came back") end
    local all = chtrain:recommend_all { users = { "a" }, k = 10 }
    T.same(all.a, got)
    -- exclude = false keeps them: the model's own list
    T.same((chtrain:recommend("a", { k = 10, exclude = false })), (m:recommend("a", { k = 10 })))
    T.same(chtrain:recommend_all({ users = { "a" }, k = 10, exclude = false }).a,
      (m:recommend("a", { k = 10 })))
  end
  -- evaluate goes through recommend_all
  local rep = rp.metrics.evaluate(chain, train, train, { k = 2, metrics = { "ndcg" },
    exclude = false })
  T.ok(rep.ndcg > 0)
  T.errors(function() rp.hybrid.chain {} end, "at least one rule")
  T.errors(function() rp.hybrid.chain { { use = 3 } } end, "expected a recommender")
  T.errors(function() rp.hybrid.chain { { when = 1, use = pop } } end, "'when' must be a function")
  T.errors(function() rp.hybrid.chain { { use = pop }, trian = train } end, "unknown option 'trian'")
end)

T.case("projection and fold-in on an ALS model", function()
  if not rp.als then T.skip("no als module") end
  local e = ev()
  local train = e:to_matrix()
  local f = rp.hybrid.attributes(items_csv, { map = e.items, fields = ITEM_FIELDS, extend = true,
    normalize = true })
  local m = rp.als.train(train, { factors = 4, iterations = 5, regularization = 0.1 })
  local p = rp.hybrid.project(m, f, { regularization = 0.5 })
  T.eq(p.kind, "projection")
  T.eq(p.info.warm_items, 4)
  T.eq(p.info.projected_items, 2)     -- 5 and 9 arrived with the attributes
  T.eq(p.item_factors.rows, 6)
  -- new items can be recommended at once; restrict to them
  p:restrict { "5", "9" }
  local items = p:recommend("a", { k = 2 })
  T.eq(#items, 2)
  -- a random placement baseline, reproducible
  local r1 = rp.hybrid.project(m, f, { method = "random", seed = 3 })
  local r2 = rp.hybrid.project(m, f, { method = "random", seed = 3 })
  T.same(r1.item_factors:row(5), r2.item_factors:row(5))
  T.errors(function() rp.hybrid.project(m, f, { method = "lasso" }) end, "field 'method'")
  T.errors(function() rp.hybrid.project({}, f) end, "user_factors and item_factors")
  -- a plain table of factors works too
  local q = rp.hybrid.project({ user_factors = m.user_factors, item_factors = m.item_factors,
    users = m.users, items = m.items }, f)
  T.eq(q.info.projected_items, 2)
  -- fold-in: the model's own recommend_new, from the exclude row
  local fo = rp.hybrid.fold_in(m)
  T.eq(fo.kind, "fold_in")
  local known = rp.io.read_events(T.write(dir .. "/known.csv", "user,item\nnew,1\nnew,2\n"),
    { users = e.users, items = e.items }):to_matrix()
  local got = fo:recommend("new", { k = 2, exclude = known })
  local want = m:recommend_new({ "1", "2" }, { k = 2 })
  T.same(got, want)
  T.eq(fo:recommend("b", { k = 2 }), nil)      -- no known interactions given
  T.errors(function() rp.hybrid.fold_in(p) end, "an ALS model")
  local fo3 = rp.hybrid.fold_in(m, { min_history = 3 })
  T.eq(fo3:recommend("new", { exclude = known }), nil)
end)

T.case("cold-start splits from Lua", function()
  local e = ev()
  local train, cases, s = rp.split.cold_users(e, { fraction = 0.4, reveal = { 0, 1 }, seed = 3 })
  T.eq(s.held_out, 2)
  T.eq(#s.users, 2)
  T.eq(#cases, 2)
  T.eq(cases[1].reveal, 0)
  T.eq(#cases[1].known, 0)
  local n = 0
  for _, u in ipairs(s.users) do n = n + #(e:to_matrix():row(u)) end
  T.eq(#cases[1].test, n)
  T.eq(#train + #cases[2].known + #cases[2].test, #e)
  T.eq(#cases[2].known, 2)
  T.ok(cases[2].known.users == e.users)
  local tr, te, si = rp.split.cold_items(e, { fraction = 0.25, seed = 1 })
  T.eq(#si.items, 1)
  T.eq(#tr + #te, #e)
  -- folds partition the users
  local count = {}
  for fold = 1, 5 do
    local _, _, sf = rp.split.cold_users(e, { folds = 5, fold = fold, reveal = { 1 } })
    for _, u in ipairs(sf.users) do count[u] = (count[u] or 0) + 1 end
  end
  for _, u in ipairs(e.users:ids()) do T.eq(count[u], 1) end
  T.errors(function() rp.split.cold_users(e, { fraction = 2 }) end, "field 'fraction'")
  T.errors(function() rp.split.cold_users(e, { reveal = { -1 } }) end, "field 'reveal'")
  T.errors(function() rp.split.cold_users(e, { folds = 3, fold = 4 }) end, "fold must be in")
  T.errors(function() rp.split.cold_users(e, { seeds = 3 }) end, "unknown option 'seeds'")
end)

T.case("allocation failures are errors, not crashes", function()
  local e = ev()
  local train = e:to_matrix()
  local function run()
    local f = rp.hybrid.attributes(items_csv, { map = e.items, fields = ITEM_FIELDS })
    local c = rp.hybrid.content(train, f)
    c:recommend_all { k = 2, exclude = train }
  end
  -- how many core allocations a whole run makes: failing each of them in
  -- turn, the run after the last one must complete
  rp._fail_alloc(1 << 40)
  run()
  local fired, count = rp._fail_alloc(0)
  T.eq(fired, false)
  T.ok(count > 0, "allocations counted")
  local finished, failures = nil, 0
  for n = 1, count + 1 do
    rp._fail_alloc(n)
    local ok, err = pcall(run)
    fired = rp._fail_alloc(0)
    if not fired then
      T.ok(ok, tostring(err))
      finished = n
      break
    end
    if not ok then
      failures = failures + 1
      T.ok(tostring(err):find("not enough memory", 1, true), "allocation " .. n .. ": " .. tostring(err))
    end
  end
  T.eq(finished, count + 1, "the run completes once no allocation fails")
  T.ok(failures > 0, "failing allocations raised errors")
end)

T.done()
