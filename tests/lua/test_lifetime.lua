-- Object lifetimes seen from Lua (README, "rp (package)", lifetimes): an
-- object an operation uses stays alive until the operation ends, whatever
-- Lua code runs meanwhile (callbacks, metamethods, finalizers, coroutines);
-- an object built from others keeps what it needs; no raw pointer from Lua
-- is trusted; free() twice is harmless for every type.  Each case ran on
-- freed memory before (a crash, or a heap-use-after-free under SAN=1).
--
--   recpipe run tests/lua/test_lifetime.lua ["part of a case name"]
local rp = require "recpipe"
local T = require "recpipe.test"

local only = arg and arg[1]
local function case(name, fn)
  if only and not name:find(only, 1, true) then return end
  T.case(name, fn)
end

-- 80 users x 40 items, two taste groups, a known pattern
local function triplets(seed)
  local t = {}
  for u = 1, 80 do
    local base = u <= 40 and 0 or 20
    for j = 1, 6 do
      t[#t + 1] = { "u" .. u, "i" .. (base + 1 + (u * 7 + j * (seed or 3)) % 20), 1 + j % 3 }
    end
  end
  return t
end
local ev_text = { "user,item,value" }
for _, r in ipairs(triplets()) do ev_text[#ev_text + 1] = table.concat(r, ",") end
local dir = T.tmpdir()
local log = T.write(dir .. "/log.csv", table.concat(ev_text, "\n") .. "\n")

local function events() return (rp.io.read_events(log)) end
local base = events():to_matrix()
-- a copy on the same maps (each case frees its own)
local function matrix() return base:copy() end
local function test_matrix(seed)
  return rp.sparse.from_triplets(triplets(seed or 5), { users = base.users, items = base.items })
end

local OPTS = { factors = 4, iterations = 3, seed = 1, threads = 1 }
local function train(m, extra)
  local o = {}
  for k, v in pairs(OPTS) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return rp.als.train(m, o)
end

local function same_factors(a, b)
  T.same(a.user_factors:totable(), b.user_factors:totable())
  T.same(a.item_factors:totable(), b.item_factors:totable())
end

local function current() collectgarbage(); collectgarbage(); return rp.memory().current end

-- Runs op() with a finalizer armed to call victim() while the C function
-- cfunc is running: a chain of garbage objects whose __gc re-arms until one
-- runs (at a GC step, at some allocation) with cfunc on the call stack for
-- the second time (the first allocation of an operation is its first pin:
-- freeing there is freeing before the operation took the object, which it
-- reports as a use of a freed object).
local function running(cfunc)
  for level = 2, 40 do
    local info = debug.getinfo(level, "f")
    if not info then return false end
    if info.func == cfunc then return true end
  end
  return false
end

local function free_during(victim, cfunc, op)
  local fired, done, hits = false, false, 0
  local function arm()
    setmetatable({}, { __gc = function()
      if done then return end
      if running(cfunc) then hits = hits + 1 end
      if hits == 2 then done, fired = true, true; victim() else arm() end
    end })
  end
  collectgarbage("incremental", 1, 1000) -- a cycle at nearly every allocation
  collectgarbage()
  arm()
  local r = table.pack(op())
  done = true
  collectgarbage("incremental", 200, 100)
  T.ok(fired, "the finalizer ran during the operation")
  return table.unpack(r, 1, r.n)
end

-- a larger matrix and log (enough allocations in one call for a GC step)
local function big_triplets()
  local t = {}
  for u = 1, 3000 do
    for j = 1, 4 do t[#t + 1] = { "b" .. u, "i" .. (1 + (u * 7 + j * 3) % 40), j } end
  end
  return t
end
local function big_matrix() return rp.sparse.from_triplets(big_triplets()) end
local big_log
local function big_events()
  if not big_log then
    local lines = { "user,item,value" }
    for _, r in ipairs(big_triplets()) do lines[#lines + 1] = table.concat(r, ",") end
    big_log = T.write(dir .. "/big.csv", table.concat(lines, "\n") .. "\n")
  end
  return (rp.io.read_events(big_log))
end

case("a matrix freed in on_iteration: training ends on it", function()
  local want = train(matrix())
  local before = current()
  local m = matrix()
  local calls = 0
  local model = train(m, { on_iteration = function(it)
    calls = calls + 1
    m:free()
    T.eq(tostring(m), "recpipe.Matrix(freed)")
    T.errors(function() return m.nnz end, "attempt to use a freed recpipe.Matrix")
  end })
  T.eq(calls, 3)
  same_factors(model, want)
  -- the matrix is gone once training returned (the model only holds maps)
  T.errors(function() m:row("u1") end, "attempt to use a freed recpipe.Matrix")
  model:free()
  T.eq(current(), before)
end)

case("the validation test matrix freed in on_iteration", function()
  local test = test_matrix()
  local want = train(matrix(), { validation = { test = test_matrix(), k = 5, patience = 10 } })
  local model = train(matrix(), { validation = { test = test, k = 5, patience = 10 },
    on_iteration = function(it, info)
      T.ok(info.validation ~= nil)
      test:free()
    end })
  same_factors(model, want)
  T.eq(tostring(test), "recpipe.Matrix(freed)")
end)

case("the init model freed in on_iteration", function()
  local init = train(matrix())
  local want = train(matrix(), { init = train(matrix()) })
  local model = train(matrix(), { init = init, on_iteration = function() init:free() end })
  same_factors(model, want)
  T.eq(tostring(init), "recpipe.ALSModel(freed)")
end)

case("__recommender is the object itself: it cannot dangle or be forged", function()
  local model = train(matrix())
  local r = model:__recommender()
  T.ok(rawequal(r, model))
  local test = test_matrix()
  local want = rp.metrics.evaluate(model, base, test, { k = 5 })
  local via = rp.metrics.evaluate({ __recommender = function() return r end }, base, test,
    { k = 5 })
  T.eq(via.ndcg, want.ndcg)
  model:free()
  T.errors(function()
    rp.metrics.evaluate({ __recommender = function() return r end }, base, test)
  end, "attempt to use a freed recpipe.ALSModel")
  for _, bad in ipairs { base, "model", 42, {}, io.stdout } do
    T.errors(function()
      rp.metrics.evaluate({ __recommender = function() return bad end }, base, test)
    end, "recommender")
    T.errors(function() rp.metrics._run(bad, base, test, {}) end, "recommender")
  end
end)

case("__recommender of a Lua object freeing the model during evaluate", function()
  local model = train(matrix())
  local test = test_matrix()
  local rec = { __recommender = function() return model:__recommender() end }
  -- the model is pinned once resolved: free() while evaluate runs waits for it
  local rep = free_during(function() model:free() end, rp.metrics._run,
    function() return rp.metrics.evaluate(rec, base, test, { k = 5, batch = 8, per_user = true,
                                                              curve = true }) end)
  T.ok(rep.users > 0)
  T.eq(tostring(model), "recpipe.ALSModel(freed)")
end)

case("a blend keeps its sources alive", function()
  local a, b = train(matrix()), rp.baseline.popularity(matrix())
  local bl = rp.hybrid.blend { { a, 0.5 }, { b, 0.5 } }
  local users = { "u1", "u2", "u50" }
  local want = bl:recommend_all { users = users, k = 5, exclude = base }
  a:free()
  b:free()
  local got = bl:recommend_all { users = users, k = 5, exclude = base }
  T.same(got, want)
  local test = test_matrix()
  T.ok(rp.metrics.evaluate(bl, base, test, { k = 5 }).users > 0)
  -- a source freed while the blend is built (by another source's __recommender)
  local c, d = train(matrix()), train(matrix())
  local sneaky = { recommend = function() end,
                   __recommender = function() c:free(); return d end }
  local bl2 = rp.hybrid.blend { { c, 1 }, { sneaky, 1 } }
  T.ok(next((bl2:recommend_all { users = users, k = 3 })) ~= nil)
  T.eq(tostring(c), "recpipe.ALSModel(freed)")
end)

case("factor views keep their model (ALS and projection)", function()
  local model = train(matrix())
  local U = model.user_factors
  local want = U:row(1)
  model:free()
  T.same(U:row(1), want)
  -- projection: r.item_factors outlives r:free()
  local m2 = train(matrix())
  local feats = rp.hybrid.interaction_features(base)
  local p = rp.hybrid.project(m2, feats)
  local V = p.item_factors
  local row = V:row(1)
  p:free()
  m2:free()
  collectgarbage()
  T.same(V:row(1), row)
  T.same(V:totable()[1], row)
end)

case("fold_in keeps its model", function()
  local model = train(matrix())
  local f = rp.hybrid.fold_in(model)
  local want = f:recommend("u1", { k = 5, exclude = base })
  model:free()
  T.same(f:recommend("u1", { k = 5, exclude = base }), want)
end)

case("a predicate freeing the log in ev:filter", function()
  local want = events():filter(function(r) return r.value > 1 end)
  local ev = events()
  local out = ev:filter(function(r)
    ev:free()
    return r.value > 1
  end)
  T.eq(#out, #want)
  T.same(out:to_matrix():totable(), want:to_matrix():totable())
  T.eq(tostring(ev), "recpipe.Events(freed)")
  -- a row view kept past its call (also past an error) is refused, not read
  local kept
  local ev2 = events()
  T.errors(function() ev2:filter(function(r) kept = r; error("stop") end) end, "stop")
  ev2:free()
  collectgarbage()
  T.errors(function() return kept.user end, "only inside the filter call")
end)

case("a finalizer freeing the matrix an operation reads", function()
  local m = big_matrix()
  local want = m:totable()
  local got = free_during(function() m:free() end, m.totable, function() return m:totable() end)
  T.same(got, want)
  T.eq(tostring(m), "recpipe.Matrix(freed)")
  local ev = big_events()
  local n = #ev
  local st = free_during(function() ev:free() end, ev.stats, function() return ev:stats() end)
  T.eq(st.events, n)
end)

case("a finalizer freeing a model while it recommends", function()
  local bm = big_matrix()
  local model = train(bm)
  local want = model:recommend_all { k = 5, exclude = bm }
  local got = free_during(function() model:free() end, model.recommend_all,
    function() return model:recommend_all { k = 5, exclude = bm } end)
  T.same(got, want)
end)

case("a Lua recommender whose lists free the test matrix", function()
  local test = test_matrix()
  local pop = rp.baseline.popularity(base)
  local want = rp.metrics.evaluate({ recommend_all = function(_, o)
    return pop:recommend_all(o)
  end }, base, test_matrix(), { k = 5 })
  local rec = { recommend_all = function(_, o)
    local lists = pop:recommend_all(o)
    return setmetatable({}, { __index = function(_, u)
      test:free()
      return lists[u]
    end })
  end }
  local got = rp.metrics.evaluate(rec, base, test, { k = 5 })
  T.eq(got.ndcg, want.ndcg)
  T.eq(got.users, want.users)
end)

case("an options table whose metamethod frees the object", function()
  local m = matrix()
  local want = matrix():kcore { min_user = 2 }
  local opts = setmetatable({}, { __index = function(_, k)
    m:free()
    if k == "min_user" then return 2 end
  end })
  local got = m:kcore(opts)
  T.same(got:totable(), want:totable())
  local model = train(matrix())
  local items = model:recommend("u1", setmetatable({}, { __index = function(_, k)
    model:free()
    if k == "k" then return 3 end
  end }))
  T.eq(#items, 3)
end)

case("a coroutine dying inside an operation releases what it pinned", function()
  local before = current()
  local m = matrix()
  local co = coroutine.create(function()
    train(m, { on_iteration = function()
      m:free()
      error("stop here")
    end })
  end)
  local ok, err = coroutine.resume(co)
  T.eq(ok, false)
  T.ok(tostring(err):find("stop here", 1, true))
  T.eq(tostring(m), "recpipe.Matrix(freed)")
  co = nil
  T.eq(current(), before) -- the dead coroutine's stack was collected
  -- a coroutine may not yield across an operation
  local m2 = matrix()
  local co2 = coroutine.wrap(function()
    train(m2, { on_iteration = function() coroutine.yield(1) end })
  end)
  T.errors(co2, "yield across")
end)

case("a chain whose rule was freed raises, not crashes", function()
  local model = train(matrix())
  local pop = rp.baseline.popularity(base)
  local ch = rp.hybrid.chain { { when = function(c) return c.known end, use = model },
                               { use = pop }, train = base }
  T.ok(ch:recommend("u1", { k = 3 }))
  model:free()
  T.errors(function() ch:recommend("u1", { k = 3 }) end, "attempt to use a freed recpipe.ALSModel")
  T.ok(ch:recommend("nobody", { k = 3 })) -- the fallback still answers
end)

case("free() twice is harmless for every type; use after free raises", function()
  local model = train(matrix())
  local feats = rp.hybrid.interaction_features(base)
  local objs = {
    ["recpipe.Matrix"] = matrix(),
    ["recpipe.Dense"] = base:row_counts(),
    ["recpipe.Events"] = events(),
    ["recpipe.IdMap"] = rp.io.idmap { "a" },
    ["recpipe.ALSModel"] = model,
    ["recpipe.Baseline"] = rp.baseline.popularity(base),
    ["recpipe.Features"] = feats,
    ["recpipe.Hybrid"] = rp.hybrid.content(base, feats),
    ["recpipe.Evaluation"] = rp.metrics.evaluate(model, base, test_matrix())._eval,
  }
  local use = {
    ["recpipe.Matrix"] = function(o) return o.nnz end,
    ["recpipe.ALSModel"] = function(o) return o.factors end,
    ["recpipe.Baseline"] = function(o) return o.name end,
    ["recpipe.Hybrid"] = function(o) return o.kind end,
  }
  for name, o in pairs(objs) do
    o:free()
    o:free()
    do local c <close> = o end
    T.eq(tostring(o), name .. "(freed)")
    T.errors(function() return (use[name] or function(x) return #x end)(o) end,
      "attempt to use a freed " .. name, name)
  end
  for _, name in ipairs { "recpipe.ALSModel", "recpipe.Baseline", "recpipe.Hybrid" } do
    T.errors(function() objs[name]:recommend("u1") end, "attempt to use a freed " .. name)
    T.errors(function() return objs[name].items end, "attempt to use a freed " .. name)
  end
end)

case("evaluate and blend range-check their options by name", function()
  local pop = rp.baseline.popularity(base)
  local test = test_matrix()
  T.errors(function() rp.metrics.evaluate(pop, base, test, { k = math.maxinteger }) end,
    "bad argument #4 to 'evaluate' (field 'k' must be an integer in 1..1048576")
  T.errors(function() rp.metrics.evaluate(pop, base, test, { threads = -1 }) end,
    "bad argument #4 to 'evaluate' (field 'threads'")
  T.errors(function() rp.metrics.evaluate(pop, base, test, { batch = -1 }) end,
    "bad argument #4 to 'evaluate' (field 'batch'")
  T.errors(function() rp.metrics.evaluate(pop, base, test, { exclude = "no" }) end,
    "bad argument #4 to 'evaluate' (field 'exclude' must be a boolean")
  T.errors(function() rp.metrics.evaluate(pop, base, test, { bootstrap = math.maxinteger }) end,
    "bad argument #4 to 'evaluate' (field 'bootstrap'")
  T.errors(function() rp.metrics.evaluate(pop, base, test, { seed = 1.5 }) end,
    "bad argument #4 to 'evaluate' (field 'seed'")
  -- the same through a Lua recommender
  local lua_rec = { recommend_all = function(_, o) return pop:recommend_all(o) end }
  T.errors(function() rp.metrics.evaluate(lua_rec, base, test, { k = math.maxinteger }) end,
    "bad argument #4 to 'evaluate' (field 'k'")
  T.errors(function() rp.hybrid.blend { { pop, 1 }, depth = math.maxinteger } end,
    "field 'depth' must be an integer in 1..")
end)

T.done()
