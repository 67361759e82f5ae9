-- rp.als from Lua: options and their errors, the recommender protocol,
-- similar, fold-in, explain, model files, factor views, callbacks.
local rp = require "recpipe"
local T = require "recpipe.test"

-- two taste groups: users 1..30 like items 1..20, users 31..60 like 21..40
local dir = T.tmpdir()
local function make_log()
  local lines = { "user,item,value" }
  math.randomseed(7)
  local function rnd(n) return math.random(0, n - 1) end
  for u = 1, 60 do
    local base = u <= 30 and 0 or 20
    for _ = 1, 8 do
      lines[#lines + 1] = ("u%d,i%d,%d"):format(u, base + 1 + rnd(20), 1 + rnd(3))
    end
  end
  lines[#lines + 1] = "u61,i1,-2" -- a dislike
  lines[#lines + 1] = "lonely,i41,1"
  return T.write(dir .. "/log.csv", table.concat(lines, "\n") .. "\n")
end

local ev = rp.io.read_events(make_log())
local train = ev:to_matrix()

local function contains(t, x)
  for _, v in ipairs(t) do if v == x then return true end end
  return false
end

T.case("train defaults and fields", function()
  local m = rp.als.train(train, { factors = 8, iterations = 5, seed = 1 })
  T.eq(m.factors, 8)
  T.eq(m.nusers, train.nrows)
  T.eq(m.nitems, train.ncols)
  T.eq(m.iterations, 5)
  T.ok(tostring(m):find("recpipe.ALSModel(62 users x 41 items, 8 factors, implicit cg, 5 iterations)", 1, true))
  T.ok(m.users == train.users and m.items == train.items)
  local o = m.options
  T.eq(o.regularization, 0.01)
  T.eq(o.alpha, 1.0)
  T.eq(o.confidence, "linear")
  T.eq(o.solver, "cg")
  T.eq(o.cg_steps, 3)
  T.eq(o.regularization_mode, "fixed")
  T.eq(#m.fingerprint, 16)
  T.eq(m.training_loss, nil) -- not asked for
  local d = rp.als.train(train, { iterations = 1 })
  T.eq(d.factors, 100) -- implicit 0.7's default
  T.eq(rp.als.train(train, { implicit = false, iterations = 1 }).options.regularization_mode,
    "frequency")
end)

T.case("option errors name the field", function()
  T.errors(function() rp.als.train(train, { factors = -3 }) end,
    "field 'factors' must be an integer in 1..4096, got -3")
  T.errors(function() rp.als.train(train, { solver = "lu" }) end,
    "field 'solver' must be one of 'cg', 'cholesky', 'auto', got 'lu'")
  T.errors(function() rp.als.train(train, { confidence = "exp" }) end, "field 'confidence'")
  T.errors(function() rp.als.train(train, { alpha = 0 }) end, "field 'alpha' must be a number in (0, 3.40282e+38]")
  T.errors(function() rp.als.train(train, { factor = 3 }) end, "unknown option 'factor'")
  T.errors(function() rp.als.train(train, { on_iteration = 3 }) end,
    "field 'on_iteration' must be a function")
  T.errors(function() rp.als.train(train, { validation = { k = 3 } }) end,
    "bad argument #2 to 'train' (field 'validation.test' is required)")
  T.errors(function() rp.als.train(train, { validation = { test = train, metric = "rmse" } }) end,
    "bad argument #2 to 'train' (field 'validation.metric' must be one of")
  -- issue 11: a validation typo named argument #3 (train takes two)
  T.errors(function() rp.als.train(train, { validation = { test = train, metric = "ndgc" } }) end,
    "bad argument #2 to 'train' (field 'validation.metric' must be one of 'ndcg'")
  T.errors(function() rp.als.train(train, { validation = { test = train, kk = 3 } }) end,
    "bad argument #2 to 'train' (field 'validation': unknown option 'kk' (known: test, k, "
    .. "metric, patience))")
  T.errors(function() rp.als.train(train, { validation = { test = train, k = 0 } }) end,
    "bad argument #2 to 'train' (field 'validation.k' must be an integer in 1..1048576, got 0)")
  T.errors(function() rp.als.train(train, { validation = { test = 3 } }) end,
    "bad argument #2 to 'train' (field 'validation.test' must be a recpipe.Matrix, got number)")
  T.errors(function() rp.als.train(train, { validation = 3 }) end,
    "bad argument #2 to 'train' (field 'validation' must be a table, got number)")
  T.errors(function() rp.als.train({}, {}) end, "recpipe.Matrix expected")
  local m8 = rp.als.train(train, { factors = 8, iterations = 1 })
  T.errors(function() rp.als.train(train, { factors = 9, init = m8 }) end,
    "init model has 8 factors")
end)

-- issue 8: options that overflow float arithmetic trained "successfully"
-- and recommended -nan
T.case("options checked in float; non-finite training is an error", function()
  T.errors(function() rp.als.train(train, { factors = 8, alpha = 1e39 }) end,
    "field 'alpha' must be a number in (0, 3.40282e+38] (it is used as a float), got 1e+39")
  T.errors(function() rp.als.train(train, { factors = 8, regularization = 1e39 }) end,
    "field 'regularization' must be a number in [0, 3.40282e+38] (it is used as a float), got "
    .. "1e+39")
  T.errors(function() rp.als.train(train, { factors = 8, init_scale = 1e20 }) end,
    "init_scale must be a number in [0, 6.52e+18] (factors x init_scale^2 must be a finite "
    .. "float), got 1e+20")
  T.errors(function() rp.als.train(train, { factors = 8, alpha = 1e38 }) end,
    "alpha 1e+38 with confidence 'linear' overflows float: the matrix's largest value ")
  -- finite confidences whose sums overflow: the row, its side and the iteration
  local first = train.users:id(1)
  T.errors(function() rp.als.train(train, { factors = 8, alpha = 1e30, confidence = "log" }) end,
    "iteration 1: user '" .. first .. "' (row 1) got non-finite factors")
  -- Cholesky: the same, or a factorisation that fails on the (finite) matrix
  local ok, e = pcall(rp.als.train, train, { factors = 8, alpha = 1e30, confidence = "log",
    solver = "cholesky" })
  T.ok(not ok and (e:find("iteration 1: user '", 1, true) or e:find("cholesky failed on row", 1,
    true)), e)
  T.errors(function() rp.als.train(train, { factors = 8, init_scale = 1e18 }) end,
    "iteration 1: user '" .. first .. "' (row 1) got non-finite factors")
  -- a trained model never scores NaN
  local m = rp.als.train(train, { factors = 8, iterations = 3, alpha = 1e6 })
  local _, scores = m:recommend(first, { k = 5 })
  for _, s in ipairs(scores) do T.ok(s == s and s > -math.huge and s < math.huge, tostring(s)) end
  T.errors(function() m:recommend_new({ "i1" }, { values = { 1e36 } }) end,
    "fold-in: the normal matrix overflows float (alpha 1e+06, regularization 0.01)")
end)

local model = rp.als.train(train, { factors = 8, iterations = 10, regularization = 0.1, seed = 3 })

T.case("recommend: protocol", function()
  local items, scores = model:recommend("u1", { k = 5 })
  T.eq(#items, 5)
  T.eq(#scores, 5)
  for a = 2, 5 do T.ok(scores[a] <= scores[a - 1]) end
  -- group 1 users get group 1 items
  for _, it in ipairs(items) do T.ok(tonumber(it:sub(2)) <= 20, it) end
  -- unknown user: nil and a message, not an error
  local none, msg = model:recommend("nobody")
  T.eq(none, nil)
  T.eq(msg, "unknown user 'nobody'")
  T.errors(function() model:recommend("u1", { kk = 3 }) end, "unknown option 'kk'")
  T.errors(function() model:recommend("u1", { k = -1 }) end, "field 'k'")
end)

T.case("recommend: exclusion, allow and deny lists", function()
  local seen = train:row("u2")
  local items = model:recommend("u2", { k = 41, exclude = train })
  for _, it in ipairs(items) do T.ok(not contains(seen, it), "seen item returned: " .. it) end
  T.eq(#items, 41 - #seen) -- k larger than the candidates: what there is
  local same = model:recommend("u2", { k = 41, filter_seen = true })
  T.same(same, items)
  local all = model:recommend("u2", { k = 41 })
  T.eq(#all, 41)
  -- allow list (unknown ids ignored), deny list
  local allow = { "i1", "i2", "i30", "i40", "zzz" }
  local got = model:recommend("u2", { k = 10, items = allow })
  T.eq(#got, 4)
  for _, it in ipairs(got) do T.ok(contains(allow, it)) end
  local denied = model:recommend("u2", { k = 10, items = allow, deny = { "i1", "i30" } })
  T.eq(#denied, 2)
  T.ok(not contains(denied, "i1") and not contains(denied, "i30"))
  local top = model:recommend("u2", { k = 3 })
  local d2 = model:recommend("u2", { k = 3, deny = { top[1] } })
  T.eq(d2[1], top[2])
end)

T.case("recommend: exclusion matrix on grown maps", function()
  -- a second file read onto the same maps adds users/items: fewer rows in train
  local f = T.write(dir .. "/more.csv", "user,item,value\nu1,i3,1\nnewuser,i99,1\n")
  local ev2 = rp.io.read_events(f, { users = train.users, items = train.items })
  local m2 = ev2:to_matrix()
  T.ok(m2.nrows > model.nusers)
  local items = model:recommend("u1", { k = 41, exclude = m2 })
  T.ok(not contains(items, "i3"))
  T.eq(#items, 40)
  -- a user added to the map after training is unknown to the model
  T.eq(model:recommend("newuser"), nil)
  -- a user with no interactions in training
  local ev3 = rp.io.read_events(T.write(dir .. "/e.csv", "user,item,value\nu5,i1,1\n"))
  T.errors(function() model:recommend("u1", { exclude = ev3:to_matrix() }) end,
    "not on the model's id maps")
end)

T.case("recommend_all and __recommender", function()
  local items, scores = model:recommend_all { k = 4, exclude = train }
  local n = 0
  for user, list in pairs(items) do
    n = n + 1
    T.eq(#list, 4)
    local one, s1 = model:recommend(user, { k = 4, exclude = train })
    T.same(list, one)
    T.same(scores[user], s1)
  end
  T.eq(n, 62)
  local some = model:recommend_all { users = { "u1", "u40", "ghost" }, k = 2 }
  T.eq(#some.u1, 2)
  T.eq(#some.u40, 2)
  T.eq(some.ghost, nil)
  T.eq(type(model:__recommender()), "userdata")
end)

T.case("items without factors are never recommended unless asked", function()
  -- items nobody in the training matrix touched keep a zero factor row
  -- (score 0, above every negative score); 41 items scan exactly, 100 go
  -- through the int8 screen
  for _, nitems in ipairs { 41, 100 } do
    local lines = { "user,item,value" }
    math.randomseed(11)
    for u = 1, 40 do
      for _ = 1, 10 do lines[#lines + 1] = ("u%d,i%d,1"):format(u, math.random(1, nitems)) end
    end
    lines[#lines + 1] = "lonely,i3,1"
    local e = rp.io.read_events(T.write(dir .. "/untrained.csv", table.concat(lines, "\n") .. "\n"))
    local cut = { i3 = true, i7 = true }
    local m = rp.als.train(e:filter(function(r) return not cut[r.item] end):to_matrix(),
      { factors = 4, iterations = 3, seed = 2 })
    local n = #e.items
    local function check(items, scores, with)
      local found = 0
      for a, it in ipairs(items) do
        if cut[it] then
          found = found + 1
          T.eq(scores[a], 0)
        end
        if a > 1 then T.ok(scores[a] <= scores[a - 1]) end
      end
      T.eq(found, with and 2 or 0, nitems .. " items")
      T.eq(#items, with and n or n - 2)
    end
    check(m:recommend("u1", { k = n }))
    check(select(1, m:recommend("u1", { k = n, include_untrained = true })),
      select(2, m:recommend("u1", { k = n, include_untrained = true })), true)
    local a, b = m:recommend_new({ "i1" }, { k = n, filter_seen = false })
    check(a, b)
    a, b = m:recommend_new({ "i1" }, { k = n, filter_seen = false, include_untrained = true })
    check(a, b, true)
    local all, sc, left = m:recommend_all { k = n }
    check(all.u1, sc.u1)
    T.eq(left, 1) -- lonely: on the map, no factors
    all, sc = m:recommend_all { k = n, include_untrained = true }
    check(all.u2, sc.u2, true)
    local some
    some, sc, left = m:recommend_all { users = { "u1", "ghost", "lonely", "u2" }, k = 3 }
    T.eq(left, 2)
    T.ok(some.u1 and some.u2 and not some.ghost and not some.lonely)
  end
end)

T.case("negative values and unseen rows", function()
  -- u61 only disliked i1: it has factors (confidence |c|, preference 0)
  T.ok(model:recommend("u61", { k = 1 }) ~= nil)
  -- rows without interactions have zero factors
  local uf = model.user_factors
  T.eq(uf.rows, model.nusers)
  T.eq(uf.cols, 8)
end)

T.case("similar items and users", function()
  local items, scores = model:similar_items("i1", { k = 5 })
  T.eq(items[1], "i1")
  T.near(scores[1], 1.0, 1e-5)
  for _, it in ipairs(items) do T.ok(tonumber(it:sub(2)) <= 20 or it == "i41", it) end
  local no_self = model:similar_items("i1", { k = 5, include_self = false })
  T.ok(not contains(no_self, "i1"))
  local users = model:similar_users("u40", { k = 3 })
  T.eq(users[1], "u40")
  T.eq(model:similar_items("nothing"), nil)
  local _, msg = model:similar_users("nobody")
  T.eq(msg, "unknown user 'nobody'")
end)

T.case("recommend_new: fold-in", function()
  local items = model:recommend_new({ "i1", "i2", "i3" }, { k = 5 })
  T.eq(#items, 5)
  for _, it in ipairs(items) do
    T.ok(it ~= "i1" and it ~= "i2" and it ~= "i3")
    T.ok(tonumber(it:sub(2)) <= 20, it)
  end
  local with = model:recommend_new({ "i1", "i2" }, { k = 41, filter_seen = false })
  T.eq(#with, 41)
  local weighted = model:recommend_new({ "i21", "i2" }, { values = { 5, 1 }, k = 3 })
  T.ok(tonumber(weighted[1]:sub(2)) > 20)
  T.errors(function() model:recommend_new({ "i1" }, { values = { 1, 2 } }) end,
    "field 'values' must be an array as long as the items (1)")
  -- a trained user's history gives (nearly) the same list as their factors
  local hist, vals = train:row("u3")
  local a = model:recommend_new(hist, { values = vals, k = 5 })
  local b = model:recommend("u3", { k = 5, exclude = train })
  local common = 0
  for _, x in ipairs(a) do if contains(b, x) then common = common + 1 end end
  T.ok(common >= 3, "fold-in and trained lists share " .. common)
end)

T.case("recommend_new without an options table, trained and loaded", function()
  local want = model:recommend_new({ "i1", "i2" }, {})
  T.eq(#want, 10)
  T.same(model:recommend_new({ "i1", "i2" }), want)
  local p = dir .. "/noopts.rpm"
  model:save(p)
  local loaded = rp.als.load(p)
  T.same(loaded:recommend_new({ "i1", "i2" }), want)
  T.same(select(2, loaded:recommend_new({ "i1", "i2" })), select(2, model:recommend_new({ "i1", "i2" })))
end)

T.case("explain", function()
  local items, contrib, total = model:explain("u1", "i5", { k = 3 })
  T.ok(#items >= 1 and #items <= 3)
  for a = 2, #contrib do T.ok(contrib[a] <= contrib[a - 1]) end
  T.eq(type(total), "number")
  local hist = train:row("u1")
  for _, it in ipairs(items) do T.ok(contains(hist, it)) end
  T.eq(model:explain("nobody", "i1"), nil)
  T.eq(model:explain("u1", "nothing"), nil)
end)

T.case("save and load", function()
  local p = dir .. "/m.rpm"
  T.eq(model:save(p), model)
  local m2 = rp.als.load(p)
  T.eq(tostring(m2), tostring(model))
  T.eq(m2.fingerprint, model.fingerprint)
  T.same(m2.item_factors:totable(), model.item_factors:totable())
  T.same({ m2:recommend("u7", { k = 5 }) }, { model:recommend("u7", { k = 5 }) })
  -- exclusion from a matrix read onto the loaded model's maps
  local ev2 = rp.io.read_events(make_log(), { users = m2.users, items = m2.items })
  local t2 = ev2:to_matrix()
  T.same(m2:recommend("u7", { k = 5, exclude = t2 }), model:recommend("u7", { k = 5, exclude = train }))
  T.errors(function() m2:recommend("u7", { filter_seen = true }) end, "needs the training matrix")
  T.ok(m2:explain("u7", "i1", { history = t2 }) ~= nil)
  model:save(dir .. "/m.rpm.gz")
  T.eq(tostring(rp.als.load(dir .. "/m.rpm.gz")), tostring(model))
  T.write(dir .. "/bad.rpm", "hello")
  T.errors(function() rp.als.load(dir .. "/bad.rpm") end, "not a recpipe ALS model file")
  T.errors(function() rp.als.load(dir .. "/missing.rpm") end, "missing.rpm")
end)

T.case("factor views stay valid", function()
  local m = rp.als.train(train, { factors = 4, iterations = 2 })
  local uf = m.user_factors
  local row = uf:row(1)
  m:free()
  T.errors(function() m:recommend("u1") end, "attempt to use a freed recpipe.ALSModel")
  T.eq(tostring(m), "recpipe.ALSModel(freed)")
  collectgarbage()
  T.same(uf:row(1), row) -- the view still reads the factors
end)

T.case("on_iteration, loss, early stop", function()
  local seen = {}
  local m = rp.als.train(train, {
    factors = 6, iterations = 8, solver = "cholesky",
    on_iteration = function(it, info)
      seen[#seen + 1] = info.loss
      T.ok(info.seconds >= 0)
      if it == 5 then return false end
    end })
  T.eq(#seen, 5)
  T.eq(m.iterations, 5)
  for a = 2, 5 do T.ok(seen[a] <= seen[a - 1] * (1 + 1e-6)) end
  T.near(m.training_loss, seen[5], 1e-12)
  T.near(m:loss(train), seen[5], 1e-6)
  -- an error in the callback stops training and propagates
  T.errors(function()
    rp.als.train(train, { factors = 4, on_iteration = function() error("boom") end })
  end, "boom")
  -- validation
  local vals = {}
  local v = rp.als.train(train, {
    factors = 6, iterations = 6,
    validation = { test = train, k = 5, metric = "map", patience = 2 },
    on_iteration = function(_, info) vals[#vals + 1] = info.validation end })
  T.ok(#vals >= 1)
  T.ok(v.iterations >= 1 and v.iterations <= 6)
end)

T.case("warm start and explicit mode", function()
  local a = rp.als.train(train, { factors = 5, iterations = 4, seed = 9 })
  local b = rp.als.train(train, { factors = 5, iterations = 2, seed = 9 })
  local c = rp.als.train(train, { factors = 5, iterations = 2, init = b })
  T.same(c.user_factors:totable(), a.user_factors:totable())
  -- warm start across different maps: rows are matched by id
  local f2 = T.write(dir .. "/other.csv", "user,item,value\nnewbie,i3,1\nu2,i1,1\nu1,i2,2\n")
  local other = rp.io.read_events(f2):to_matrix()
  local w = rp.als.train(other, { factors = 5, iterations = 0, init = a })
  T.same(w.user_factors:row(other.users:index("u1")), a.user_factors:row(train.users:index("u1")))
  T.same(w.item_factors:row(other.items:index("i2")), a.item_factors:row(train.items:index("i2")))
  T.ok(w.user_factors:row(other.users:index("newbie"))[1] < 0.01) -- a fresh random start
  local e = rp.als.train(train, { factors = 5, iterations = 10, implicit = false,
    regularization = 0.05 })
  T.ok(e:loss(train) < 1.0, "explicit RMSE " .. e:loss(train))
  -- early stopping on the RMSE of held-out ratings (lower is better)
  local seen = {}
  local v = rp.als.train(train, { factors = 5, iterations = 8, implicit = false,
    regularization = 0.05, validation = { test = train, patience = 2 },
    on_iteration = function(_, info) seen[#seen + 1] = info.validation end })
  T.ok(#seen >= 1)
  local best = math.huge
  for _, x in ipairs(seen) do best = math.min(best, x) end
  T.near(rp.metrics.evaluate(v, train, train, { metrics = { "rmse" }, exclude = false }).rmse,
    best, 1e-9)
  T.ok(tostring(e):find("explicit", 1, true))
end)

T.done()
