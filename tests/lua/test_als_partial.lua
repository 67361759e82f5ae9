-- model:partial_fit_users / partial_fit_items: exact recomputation of some
-- rows against an independent double-precision solve, equality with a user
-- half-step of training, growth by new ids, model files, bad input.
local rp = require "recpipe"
local T = require "recpipe.test"

local dir = T.tmpdir()
local function make_log()
  local lines = { "user,item,value" }
  math.randomseed(11)
  for u = 1, 40 do
    local base = u <= 20 and 0 or 15
    for _ = 1, 6 do
      lines[#lines + 1] = ("u%d,i%d,%d"):format(u, base + math.random(1, 15), math.random(1, 3))
    end
  end
  return T.write(dir .. "/log.csv", table.concat(lines, "\n") .. "\n")
end
local ev = rp.io.read_events(make_log())
local train = ev:to_matrix()

-- Solves A x = b (A n x n, tables of tables) by Gaussian elimination with
-- partial pivoting, in double: the reference.
local function solve(A, b)
  local n = #b
  local M = {}
  for i = 1, n do
    M[i] = {}
    for j = 1, n do M[i][j] = A[i][j] end
    M[i][n + 1] = b[i]
  end
  for c = 1, n do
    local p = c
    for r = c + 1, n do if math.abs(M[r][c]) > math.abs(M[p][c]) then p = r end end
    M[c], M[p] = M[p], M[c]
    for r = c + 1, n do
      local f = M[r][c] / M[c][c]
      for j = c, n + 1 do M[r][j] = M[r][j] - f * M[c][j] end
    end
  end
  local x = {}
  for i = n, 1, -1 do
    local s = M[i][n + 1]
    for j = i + 1, n do s = s - M[i][j] * x[j] end
    x[i] = s / M[i][i]
  end
  return x
end

-- The implicit user half-step written out over every item (confidence
-- "linear": c = alpha r for a stored value, 1 for an absent pair; p = [r > 0]):
-- (sum_i c_i y_i y_i^T + lambda I) x = sum_i c_i p_i y_i.
local function reference_user(model, hist, lambda, alpha)
  local f, Y = model.factors, model.item_factors
  local A, b = {}, {}
  for a = 1, f do
    A[a] = {}
    for c = 1, f do A[a][c] = a == c and lambda or 0 end
    b[a] = 0
  end
  for i = 1, model.nitems do
    local y = Y:row(i)
    local r = hist[model.items:id(i)]
    local c = r and alpha * math.abs(r) or 1
    for a = 1, f do
      for d = 1, f do A[a][d] = A[a][d] + c * y[a] * y[d] end
      if r and r > 0 then b[a] = b[a] + c * y[a] end
    end
  end
  return solve(A, b)
end

local function near_vec(got, want, tol, what)
  local scale = 0
  for _, v in ipairs(want) do scale = math.max(scale, math.abs(v)) end
  for d = 1, #want do
    if math.abs(got[d] - want[d]) > tol * scale then
      error(("%s: dimension %d: got %.9g, want %.9g"):format(what, d, got[d], want[d]), 2)
    end
  end
end

T.case("partial_fit_users equals an independent double solve", function()
  local m = rp.als.train(train, { factors = 6, iterations = 4, regularization = 0.1, alpha = 2,
    seed = 3 })
  local hist = { i1 = 3, i7 = 1, i22 = 2 }
  local rows = {}
  for item, v in pairs(hist) do rows[#rows + 1] = { "u5", item, v } end
  local x = rp.sparse.from_triplets(rows, { items = m.items })
  T.eq(m:partial_fit_users({ "u5" }, x), m)
  local want = reference_user(m, hist, 0.1, 2)
  near_vec(m.user_factors:row(m.users:index("u5")), want, 1e-5, "u5")
  -- the other users are untouched
  local before = rp.als.train(train, { factors = 6, iterations = 4, regularization = 0.1,
    alpha = 2, seed = 3 })
  T.same(m.user_factors:row(m.users:index("u6")), before.user_factors:row(before.users:index("u6")))
end)

T.case("partial_fit_users on the training rows is the next user half-step", function()
  local opts = { factors = 5, iterations = 3, regularization = 0.05, solver = "cholesky", seed = 9 }
  local a = rp.als.train(train, opts)
  local half = rp.als.train(train, { factors = 5, iterations = 1, regularization = 0.05,
    solver = "cholesky", seed = 9, init = a })
  a:partial_fit_users(train.users:ids(), train)
  for u = 1, a.nusers do
    near_vec(a.user_factors:row(u), half.user_factors:row(u), 2e-4, "user " .. u)
  end
  -- explicit mode too (no Gram term, frequency regularization)
  local eo = { factors = 4, iterations = 3, implicit = false, regularization = 0.1,
    solver = "cholesky", seed = 2 }
  local e = rp.als.train(train, eo)
  eo.iterations, eo.init = 1, e
  local eh = rp.als.train(train, eo)
  e:partial_fit_users(train.users:ids(), train)
  -- explicit training rebalances after each iteration: eh's users are the
  -- half-step times one common scale
  local ab, bb = 0, 0
  for u = 1, e.nusers do
    local a, b = e.user_factors:row(u), eh.user_factors:row(u)
    for d = 1, #a do ab, bb = ab + a[d] * b[d], bb + b[d] * b[d] end
  end
  local s = ab / bb
  for u = 1, e.nusers do
    local b = eh.user_factors:row(u)
    for d = 1, #b do b[d] = b[d] * s end
    near_vec(e.user_factors:row(u), b, 2e-4, "explicit user " .. u)
  end
end)

T.case("partial_fit_items is the item half-step; Y^T Y follows", function()
  local opts = { factors = 4, iterations = 2, regularization = 0.05, solver = "cholesky", seed = 4 }
  local a = rp.als.train(train, opts)
  -- an item half-step against a's user factors: train one more iteration
  -- from a whose user half-step is undone by solving the items again
  local t = train:transpose()
  a:partial_fit_users(train.users:ids(), train)  -- X <- the half-step
  local half = rp.als.train(train, { factors = 4, iterations = 1, regularization = 0.05,
    solver = "cholesky", seed = 4, init = a })
  -- half: X' = the user half-step of a's Y (= a's X now), Y' = items against X'
  a:partial_fit_items(t.users:ids(), t)
  for i = 1, a.nitems do
    near_vec(a.item_factors:row(i), half.item_factors:row(i), 5e-4, "item " .. i)
  end
  -- fold-in uses Y^T Y: after the item update it must match the new items
  local items, scores = a:recommend_new({ "i1", "i2" }, { k = 3 })
  local hitems, hscores = half:recommend_new({ "i1", "i2" }, { k = 3 })
  T.same(items, hitems)
  for k = 1, 3 do T.near(scores[k], hscores[k], 1e-3) end
end)

T.case("new ids grow the model and survive save/load", function()
  local m = rp.als.train(train, { factors = 4, iterations = 3, seed = 5 })
  local n0 = m.nusers
  local x = rp.sparse.from_triplets({ { "new1", "i3", 2 }, { "new1", "i4", 1 }, { "u2", "i9", 1 },
    { "new2", "i30", 1 } }, { items = m.items })
  m:partial_fit_users({ "new1", "u2", "new2" }, x)
  T.eq(m.nusers, n0 + 2)
  T.eq(m.users:index("new1"), n0 + 1)
  T.eq(#m.users, n0 + 2)
  local items = m:recommend("new1", { k = 3 })
  T.eq(#items, 3)
  T.ok((m:recommend("new2", { k = 1 }))[1] ~= nil)
  local want = reference_user(m, { i3 = 2, i4 = 1 }, 0.01, 1)
  near_vec(m.user_factors:row(n0 + 1), want, 1e-4, "new1")
  -- many more: the arrays are reallocated (capacity doubles)
  local trip, ids = {}, {}
  for k = 1, 100 do
    ids[k] = "g" .. k
    trip[k] = { ids[k], "i" .. (k % 30 + 1), 1 }
  end
  m:partial_fit_users(ids, rp.sparse.from_triplets(trip, { items = m.items }))
  T.eq(m.nusers, n0 + 102)
  near_vec(m.user_factors:row(n0 + 1), want, 1e-4, "new1 after growth")
  local path = dir .. "/grown.rpm"
  m:save(path)
  local l = rp.als.load(path)
  T.eq(l.nusers, m.nusers)
  T.eq(l.users:index("g100"), n0 + 102)
  T.same(l.user_factors:row(n0 + 102), m.user_factors:row(n0 + 102))
  T.same({ l:recommend("new1", { k = 5 }) }, { m:recommend("new1", { k = 5 }) })
  -- new items grow the item side
  local it = rp.sparse.from_triplets({ { "brand-new", "u1", 3 }, { "brand-new", "u2", 1 } },
    { items = m.users })
  local ni = m.nitems
  m:partial_fit_items({ "brand-new" }, it)
  T.eq(m.nitems, ni + 1)
  local sim = m:similar_items("brand-new", { k = 2 })
  T.eq(sim[1], "brand-new")
end)

T.case("partial_fit_items gives an item without factors factors: it can be recommended", function()
  -- i3 is on the item map but has no training entries: never recommended
  -- until partial_fit_items fits it (the cached list of items without
  -- factors must be found again after the fit)
  local m = rp.als.train(ev:filter(function(r) return r.item ~= "i3" end):to_matrix(),
    { factors = 4, iterations = 3, seed = 2 })
  local function has_i3()
    local items = m:recommend("u1", { k = m.nitems })
    for _, it in ipairs(items) do if it == "i3" then return true end end
    return false
  end
  T.eq(has_i3(), false)
  local it = rp.sparse.from_triplets({ { "i3", "u1", 2 }, { "i3", "u3", 1 } }, { items = m.users })
  m:partial_fit_items({ "i3" }, it)
  T.ok(m.item_factors:row(m.items:index("i3"))[1] ~= 0)
  T.eq(has_i3(), true)
end)

T.case("bad input gives clear errors", function()
  local m = rp.als.train(train, { factors = 4, iterations = 2, seed = 5 })
  local x = rp.sparse.from_triplets({ { "u1", "i1", 1 } }, { items = m.items })
  T.errors(function() m:partial_fit_users({ "u1", "u2" }, x) end,
    "matrix has 1 rows, expected one per user id (2)")
  T.errors(function() m:partial_fit_users("u1", x) end, "table expected")
  T.errors(function() m:partial_fit_users({ "u1" }, {}) end, "recpipe.Matrix expected")
  T.errors(function() m:partial_fit_users({ true }, x) end,
    "user id 1 must be a string or an integer, got boolean")
  T.errors(function() m:partial_fit_users({ "u1" }, ev:to_matrix():transpose()) end,
    "not on the model's item map")
  -- an item the model does not know (the map grew after training)
  local nitems = m.nitems
  local y = rp.sparse.from_triplets({ { "u1", "nope", 1 } }, { items = m.items })
  T.errors(function() m:partial_fit_users({ "u1" }, y) end,
    "matrix row 1: column 'nope' is not an item of the model (it has " .. nitems .. " items)")
  local w = rp.sparse.from_triplets({ { "a", "i1", 1 }, { "b", "i2", 1 } }, { items = m.items })
  T.errors(function() m:partial_fit_users({ "u3", "u3" }, w) end, "user 'u3' is given twice")
  -- nothing changed by the failed calls
  T.eq(m.nusers, train.nrows)
end)

T.case("set_session: the session's items gain weight per event, scored independently", function()
  local m = rp.als.train(train, { factors = 4, iterations = 3, seed = 3 })
  local U, Y = m.user_factors:row(m.users:index("u7")), m.item_factors
  local seen = {}
  for _, it in ipairs((train:row("u7"))) do seen[it] = true end
  -- the reference: every item not seen, x.y plus 0.5 per listed occurrence
  local session = { "i20", "i3", "i20", "nope" }
  local boost = { i20 = 1.0, i3 = 0.5 }
  local ref = {}
  for i = 1, m.nitems do
    local id = m.items:id(i)
    if not seen[id] then
      local y, s = Y:row(i), 0
      for d = 1, m.factors do s = s + U[d] * y[d] end
      ref[#ref + 1] = { id = id, s = s + (boost[id] or 0), i = i }
    end
  end
  table.sort(ref, function(a, b) return a.s > b.s or (a.s == b.s and a.i < b.i) end)
  local before = (m:recommend("u7", { k = 5, exclude = train }))
  T.eq(m:set_session("u7", session, 0.5), m)
  local items, scores = m:recommend("u7", { k = 5, exclude = train })
  for a = 1, 5 do
    T.eq(items[a], ref[a].id)
    T.near(scores[a], ref[a].s, 1e-5)
  end
  T.ok(items[1] ~= before[1] or items[2] ~= before[2], "the session changes the list")
  -- recommend_all (the batch path) gives the same list; other users are unchanged
  local all = m:recommend_all { users = { "u7", "u8" }, k = 5, exclude = train }
  T.eq(table.concat(all.u7, ","), table.concat(items, ","))
  -- an empty session clears it
  m:set_session("u7", {}, 0.5)
  T.eq(table.concat((m:recommend("u7", { k = 5, exclude = train })), ","), table.concat(before, ","))
  T.errors(function() m:set_session("nobody", { "i1" }, 1) end, "unknown user 'nobody'")
  T.errors(function() m:set_session("u7", "i1", 1) end, "table expected")
  T.errors(function() m:set_session("u7", { "i1" }) end, "number expected")
  T.errors(function() m:set_session("u7", { "i1" }, 0 / 0) end, "session weight must be a finite number")
end)

T.done()
