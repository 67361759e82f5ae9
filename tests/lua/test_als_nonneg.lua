-- nonnegative = true (Spark's option): every factor >= 0 in training,
-- fold-in and partial fits; the model file records it (version 2) and
-- version 1 files still load.
local rp = require "recpipe"
local T = require "recpipe.test"

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local dir = T.tmpdir()

-- explicit ratings from non-negative rank-2 factors plus a little noise
local function gen(seed)
  math.randomseed(seed)
  local U, V, tr, te = {}, {}, {}, {}
  for u = 1, 30 do U[u] = { math.random(), math.random() } end
  for i = 1, 40 do V[i] = { math.random(), math.random() } end
  for u = 1, 30 do
    for i = 1, 40 do
      local x = math.random()
      local r = U[u][1] * V[i][1] + U[u][2] * V[i][2]
      if x < 0.6 then
        tr[#tr + 1] = { "u" .. u, "i" .. i, r + 0.01 * (math.random() - 0.5) }
      elseif x < 0.9 then
        te[#te + 1] = { "u" .. u, "i" .. i, r }
      end
    end
  end
  local train = rp.sparse.from_triplets(tr)
  return train, rp.sparse.from_triplets(te, { users = train.users, items = train.items })
end

local function all_nonnegative(d)
  for r = 1, #d do
    for _, v in ipairs(d:row(r)) do
      if v < 0 then return false end
    end
  end
  return true
end

T.case("nonnegative factors, explicit and implicit, and their accuracy", function()
  local train, test = gen(4)
  local m = rp.als.train(train, { implicit = false, factors = 2, iterations = 10,
    regularization = 0.01, nonnegative = true, seed = 0 })
  T.eq(m.options.nonnegative, true)
  T.ok(all_nonnegative(m.user_factors) and all_nonnegative(m.item_factors))
  local e = m:loss(test)
  T.ok(e < 0.04, ("RMSE %g"):format(e)) -- ALSSuite's nonnegative target (rank 2)
  local free = rp.als.train(train, { implicit = false, factors = 2, iterations = 10,
    regularization = 0.01, seed = 0 })
  T.eq(free.options.nonnegative, false)
  for _, solver in ipairs({ "cg", "cholesky" }) do
    local mi = rp.als.train(train, { factors = 4, iterations = 3, nonnegative = true,
      solver = solver, seed = 1 })
    T.ok(all_nonnegative(mi.user_factors) and all_nonnegative(mi.item_factors), solver)
  end
  T.errors(function() rp.als.train(train, { nonnegative = 1 }) end, "field 'nonnegative'")
end)

T.case("fold-in, partial fits, save and load keep the constraint", function()
  local train = gen(6)
  local m = rp.als.train(train, { implicit = false, factors = 3, iterations = 5,
    nonnegative = true, seed = 2 })
  local x = rp.sparse.from_triplets({ { "new", "i1", 5 }, { "new", "i2", -3 } },
    { items = m.items })
  m:partial_fit_users({ "new" }, x)
  for _, v in ipairs(m.user_factors:row(m.users:index("new"))) do T.ok(v >= 0) end
  local path = dir .. "/nn.rpm"
  m:save(path)
  local l = rp.als.load(path)
  T.eq(l.options.nonnegative, true)
  T.same({ l:recommend_new({ "i1", "i3" }, { k = 5 }) }, { m:recommend_new({ "i1", "i3" }, { k = 5 }) })
end)

-- tests/lua/data/als_v1.rpm: written by the version 1 writer (recpipe before
-- the nonnegative option) from a 3 x 3 explicit model
T.case("a version 1 model file still loads", function()
  local m = rp.als.load(here .. "data/als_v1.rpm")
  T.eq(m.nusers, 3)
  T.eq(m.nitems, 3)
  T.eq(m.factors, 3)
  T.eq(m.options.nonnegative, false)
  T.eq(m.options.implicit, false)
  local want = { 0.82270604372025, 0.86895310878754, -0.31840977072716 }
  local got = m.user_factors:row(m.users:index("ann"))
  for d = 1, 3 do T.near(got[d], want[d], 1e-6) end
  T.same((m:recommend("ann", { k = 3 })), { "tent", "stove", "lamp" })
  -- saved again it is a version 2 file that loads the same
  local path = dir .. "/again.rpm"
  m:save(path)
  local f = assert(io.open(path, "rb"))
  local head = f:read(12)
  f:close()
  T.eq(string.unpack("<I4", head, 9), 2)
  T.same(rp.als.load(path).user_factors:row(1), m.user_factors:row(1))
end)

T.done()
