-- rp.cache from Lua: every function and option, the values it stores and
-- those it refuses, TTL through the clock hook (no sleeping), single
-- flight, shared caches, bad arguments and allocation failure.
local rp = require "recpipe"
local T = require "recpipe.test"

local function new(opts) return rp.cache.new(opts) end

T.case("new: defaults and options", function()
  local s = new():stats()
  T.eq(s.capacity, 10000)
  T.eq(s.capacity_bytes, 0)
  T.eq(s.ttl, 0)
  T.eq(s.shards, 16)
  s = new { capacity = 100, ttl = 30, shards = 4 }:stats()
  T.eq(s.capacity, 100)
  T.eq(s.ttl, 30)
  T.eq(s.shards, 4)
  -- a byte capacity alone lifts the entry limit; "64MB" is 64 MiB
  s = new { capacity_bytes = "64MB" }:stats()
  T.eq(s.capacity_bytes, 64 * 1024 * 1024)
  T.eq(s.capacity, 0)
  s = new { capacity = "1KB" }:stats()
  T.eq(s.capacity_bytes, 1024)
  s = new { capacity = 5, capacity_bytes = 4096 }:stats()
  T.eq(s.capacity, 5)
  T.eq(s.capacity_bytes, 4096)
  T.eq(s.shards, 5) -- lowered to the capacity
end)

T.case("new: bad options", function()
  T.errors(function() new { capacity = -1 } end,
    "bad argument #1 to 'new' (option 'capacity' must be a whole number of entries")
  T.errors(function() new { capacity = 1.5 } end, "option 'capacity' must be a whole number")
  T.errors(function() new { capacity = "100" } end,
    "option 'capacity' must be a number of entries, or a size with a unit such as \"64MB\", got '100'")
  T.errors(function() new { capacity = true } end,
    "option 'capacity' must be a number or a size such as \"64MB\", got boolean")
  T.errors(function() new { capacity_bytes = "lots" } end, "option 'capacity_bytes' must be a size")
  T.errors(function() new { capacity = "1MB", capacity_bytes = 5 } end, "given twice")
  T.errors(function() new { capacity = 0 } end, "a cache needs a limit")
  T.errors(function() new { ttl = -1 } end, "option 'ttl' must be seconds in [0, 1e9]")
  T.errors(function() new { ttl = "5" } end, "option 'ttl' must be a number, got '5'")
  T.errors(function() new { shards = 0 } end, "option 'shards' must be an integer in 1..1024, got 0")
  T.errors(function() new { shards = 2000 } end, "got 2000")
  T.errors(function() new { capcity = 5 } end,
    "unknown option 'capcity' (known: capacity, capacity_bytes, ttl, shards)")
  T.errors(function() new { [1] = 5 } end, "option keys must be strings, got number")
  T.errors(function() new(5) end, "bad argument #1 to 'new' (table expected, got number)")
end)

T.case("get/put: strings, numbers, booleans, tables round trip", function()
  local c = new { capacity = 100 }
  local values = {
    "plain", "", "with\0zero\255bytes", 0, 42, -7, math.maxinteger, math.mininteger,
    2.5, -0.0, 1e300, math.huge, -math.huge, true, false,
    {}, { 1, 2, 3 }, { "a", { "b", { "c" } } }, { x = 1, y = "two", z = { w = false } },
    { 1, 2, nil, 4 }, { [1.5] = "f", [true] = 1, [false] = 0, [-3] = "neg" },
    { items = { "i1", "i2" }, scores = { 0.9, 0.8 }, reason = "als" },
  }
  for i, v in ipairs(values) do
    local k = "k" .. i
    T.eq(c:put(k, v), true)
    local got = c:get(k)
    T.same(got, v, k)
    if type(v) == "number" then T.eq(math.type(got), math.type(v), k .. " subtype") end
  end
  -- a nan value survives (it cannot be a key)
  c:put("nan", 0 / 0)
  local n = c:get("nan")
  T.ok(n ~= n)
  -- every get builds a fresh table
  local a, b = c:get("k17"), c:get("k17")
  T.ok(a ~= b)
  a[1] = 99
  T.eq(c:get("k17")[1], 1)
  -- a metatable is not kept; the table's own contents are
  c:put("meta", setmetatable({ 1 }, { __index = function() return "x" end }))
  T.eq(getmetatable(c:get("meta")), nil)
  T.eq(c:get("meta")[2], nil)
  -- a table reached twice (not a cycle) is stored twice
  local shared = { 1 }
  T.same(c:get(c:put("dag", { shared, shared }) and "dag"), { { 1 }, { 1 } })
  -- keys are any bytes
  c:put("\0\1", "bin")
  T.eq(c:get("\0\1"), "bin")
  c:put("", "empty key")
  T.eq(c:get(""), "empty key")
  T.eq(c:get("absent"), nil)
end)

T.case("put: values it refuses, with where", function()
  local c = new()
  T.errors(function() c:put("k", nil) end,
    "bad argument #2 to 'put' (value must not be nil (invalidate removes a key))")
  T.errors(function() c:put("k", print) end,
    "bad argument #2 to 'put' (cannot store a function at value (values are strings, numbers, booleans and tables of those))")
  T.errors(function() c:put("k", { a = { 1, coroutine.create(print) } }) end,
    "cannot store a thread at value.a[2]")
  T.errors(function() c:put("k", { ["a b"] = io.stdout }) end, "cannot store a userdata at value[\"a b\"]")
  T.errors(function() c:put("k", { c }) end, "cannot store a userdata at value[1]")
  T.errors(function() c:put("k", { [{}] = 1 }) end,
    "cannot store a table as a table key at value[table: ")
  local cyc = { x = {} }
  cyc.x.back = cyc
  T.errors(function() c:put("k", cyc) end, "cannot store a cycle: the table at value.x.back is inside itself")
  local deep = {}
  local t = deep
  for _ = 1, 100 do t.n = {}; t = t.n end
  T.errors(function() c:put("k", deep) end, "tables nested deeper than 100")
  local ok = {}
  t = ok
  for _ = 1, 99 do t.n = {}; t = t.n end
  T.eq(c:put("k", ok), true)
  T.eq(c:get("k").n.n.n ~= nil, true)
  -- nothing was stored by the refused puts
  T.eq(#c, 1)
end)

T.case("keys and other bad arguments", function()
  local c = new()
  T.errors(function() c:get(1) end, "bad argument #1 to 'get' (key must be a string, got number)")
  T.errors(function() c:get() end, "key must be a string, got no value")
  T.errors(function() c:put({}, 1) end, "bad argument #1 to 'put' (key must be a string, got table)")
  T.errors(function() c:get(("k"):rep(65536)) end,
    "key of 65536 bytes is longer than the limit of 65535 bytes")
  T.errors(function() c:put("k", 1, { ttl = -1 }) end,
    "put: ttl must be 0 (never expire) or seconds up to 1e9, got -1")
  T.errors(function() c:put("k", 1, { ttl = "5" }) end, "field 'ttl' must be a number, got '5'")
  T.errors(function() c:put("k", 1, { ttl = math.huge }) end, "field 'ttl' must be a finite number")
  T.errors(function() c:put("k", 1, { tll = 5 }) end, "unknown option 'tll' (known: ttl)")
  T.errors(function() c:fetch("k", 5) end, "bad argument #2 to 'fetch' (function expected, got number)")
  T.errors(function() c:fetch("k", function() return 1 end, { ttl = 2e9 }) end,
    "fetch: ttl must be 0 (never expire) or seconds up to 1e9, got 2e+09")
  T.errors(function() c:invalidate(5) end, "key must be a string, got number")
  T.errors(function() c:invalidate("k", { prefx = true }) end, "unknown option 'prefx' (known: prefix)")
  T.errors(function() c:invalidate("k", { prefix = 1 }) end, "field 'prefix' must be a boolean")
  T.errors(function() c.get(5, "k") end, "recpipe.Cache expected, got number")
  T.errors(function() c:_advance(-1) end, "seconds must be in (0, 1e9)")
  T.errors(function() rp.cache.shared() end, "bad argument #1 to 'shared' (string expected, got no value)")
end)

T.case("LRU order and counts (one shard)", function()
  local c = new { capacity = 3, shards = 1 }
  c:put("a", 1); c:put("b", 2); c:put("c", 3)
  T.eq(c:get("a"), 1)  -- a c b
  c:put("d", 4)        -- evicts b: d a c
  T.eq(c:get("b"), nil)
  T.eq(c:get("c"), 3)  -- c d a
  c:put("e", 5)        -- evicts a: e c d
  T.eq(c:get("a"), nil)
  T.eq(#c, 3)
  local s = c:stats()
  T.eq(s.hits, 2)
  T.eq(s.misses, 2)
  T.eq(s.inserts, 5)
  T.eq(s.evictions, 2)
  T.eq(s.entries, 3)
  -- small integers take 1 byte, keys 1 byte: c, d, e = 3 x 2
  T.eq(s.bytes, 6)
  T.eq(s.entries, s.inserts - s.evictions - s.expirations - s.invalidations)
end)

T.case("bytes: strings count their length; too big is not stored", function()
  local c = new { capacity_bytes = 100, shards = 1 }
  T.eq(c:put("k1", ("x"):rep(30)), true)
  T.eq(c:put("k2", ("x"):rep(30)), true)
  T.eq(c:stats().bytes, 64)
  T.eq(c:put("k3", ("x"):rep(50)), true) -- 116 > 100: k1 goes
  T.eq(c:get("k1"), nil)
  T.eq(c:stats().bytes, 84)
  T.eq(c:put("k2", ("x"):rep(200)), false) -- too big: not stored, old k2 dropped
  T.eq(c:get("k2"), nil)
  local s = c:stats()
  T.eq(s.rejected, 1)
  T.eq(s.bytes, 52)
end)

T.case("ttl: default, per put, via the clock hook", function()
  local c = new { ttl = 10, capacity = 10, shards = 1 }
  c:put("a", "A")
  c:put("b", "B", { ttl = 0 })   -- never
  c:put("c", "C", { ttl = 100 })
  c:_advance(9.5)
  T.eq(c:get("a"), "A")
  c:_advance(0.5)
  T.eq(c:get("a"), nil)
  c:_advance(1e6)
  T.eq(c:get("b"), "B")
  T.eq(c:get("c"), nil)
  local s = c:stats()
  T.eq(s.expirations, 2)
  T.eq(s.entries, 1)
end)

T.case("fetch: computes once, then hits", function()
  local c = new()
  local calls = 0
  local function compute(k) calls = calls + 1; return { key = k, n = calls } end
  T.same(c:fetch("u1", compute), { key = "u1", n = 1 })
  T.same(c:fetch("u1", compute), { key = "u1", n = 1 })
  T.eq(calls, 1)
  T.same(c:get("u1"), { key = "u1", n = 1 })
  local s = c:stats()
  T.eq(s.computations, 1)
  T.eq(s.hits, 2)
  T.eq(s.misses, 1)
  -- nil: nothing cached, fetch returns nil and computes next time
  T.eq(c:fetch("none", function() return nil end), nil)
  T.eq(c:get("none"), nil)
  T.eq(c:fetch("none", function() return "now" end), "now")
  -- a ttl from the function (second result), else the fetch's
  c:fetch("short", function() return 1, 5 end, { ttl = 1000 })
  c:fetch("long", function() return 1 end, { ttl = 1000 })
  c:_advance(5)
  T.eq(c:get("short"), nil)
  T.eq(c:get("long"), 1)
  T.errors(function() c:fetch("x", function() return 1, "soon" end) end,
    "fetch: the function's second result (ttl) must be a number, got string")
  T.errors(function() c:fetch("x", function() return 1, -3 end) end, "fetch: ttl must be 0")
  T.eq(c:get("x"), nil)
end)

T.case("fetch: errors reach the caller as raised and are not cached", function()
  local c = new()
  local err = T.errors(function() c:fetch("e", function() error("model not loaded") end) end,
    "model not loaded")
  T.ok(err:find("test_cache.lua", 1, true), "position kept: " .. err)
  local obj = { code = 503 }
  local ok, got = pcall(c.fetch, c, "e", function() error(obj) end)
  T.eq(ok, false)
  T.eq(got, obj) -- the very error object
  T.eq(c:stats().compute_errors, 2)
  T.eq(c:fetch("e", function() return "fine" end), "fine")
  T.errors(function() c:fetch("f", function() return print end) end,
    "fetch: the function's value: cannot store a function at value")
  T.errors(function() c:fetch("r", function(k) return c:fetch(k, function() return 1 end) end) end,
    "fetch: the function computing key 'r' fetched that key again (recursion)")
  -- other keys from inside are fine
  T.eq(c:fetch("outer", function() return c:fetch("inner", function() return 7 end) + 1 end), 8)
  -- an invalidation while computing: the value is returned, not stored
  T.eq(c:fetch("gone", function(k) c:invalidate(k); return "v" end), "v")
  T.eq(c:get("gone"), nil)
end)

T.case("invalidate: a key, a prefix, everything", function()
  local c = new { capacity = 100 }
  for _, k in ipairs { "u1|a", "u1|b", "u10|a", "u2|a", "u1", "v1" } do c:put(k, k) end
  T.eq(c:invalidate("u2|a"), 1)
  T.eq(c:invalidate("u2|a"), 0)
  T.eq(c:invalidate("u1|", { prefix = true }), 2)
  T.eq(c:get("u10|a"), "u10|a")
  T.eq(c:invalidate("u1", { prefix = true }), 2)
  T.eq(c:invalidate("u1", { prefix = false }), 0)
  T.eq(#c, 1)
  T.eq(c:stats().invalidations, 5)
  T.eq(c:clear(), 1)
  T.eq(#c, 0)
end)

T.case("shared: one cache per name", function()
  local a = rp.cache.shared("test-answers", { capacity = 50 })
  local b = rp.cache.shared("test-answers")
  a:put("x", { 1, 2 })
  T.same(b:get("x"), { 1, 2 })
  T.ok(rp.cache.shared("test-answers", { capacity = 50 }))
  T.errors(function() rp.cache.shared("test-answers", { capacity = 60 }) end,
    "bad argument #2 to 'shared' (shared cache 'test-answers' exists with capacity = 50; this call asks for 60 (give the same options, or none))")
  T.errors(function() rp.cache.shared("") end, "shared cache name must be 1..64 bytes, got 0")
  T.errors(function() rp.cache.shared(("n"):rep(65)) end, "got 65")
  -- freeing one handle leaves the cache to the others
  a:free()
  T.errors(function() a:get("x") end, "attempt to use a freed recpipe.Cache")
  T.same(b:get("x"), { 1, 2 })
  T.eq(tostring(a), "recpipe.Cache (freed)")
end)

T.case("tostring, #, <close>, free twice", function()
  local c = new { capacity = 10, capacity_bytes = 1000 }
  c:put("k", "v")
  T.eq(tostring(c), "recpipe.Cache (1 entries, 2 bytes; capacity 10 entries, 1000 bytes)")
  T.eq(#c, 1)
  do
    local d <close> = new()
    d:put("k", 1)
  end
  c:free()
  c:free()
end)

-- Runs fn with the n-th core allocation failing, n = 1, 2, ... until a run
-- completes: a failing run raises "not enough memory" (or, when only the
-- storing failed, completes with the value not kept) and leaks nothing.
local function fault_loop(fn)
  collectgarbage()
  collectgarbage()
  local base = rp.memory().current
  local failures = 0
  for n = 1, 100000 do
    rp._fail_alloc(n)
    local ok, err = pcall(fn)
    local fired = rp._fail_alloc(0)
    if ok then err = nil end
    collectgarbage()
    collectgarbage()
    T.eq(rp.memory().current, base, "C memory after failing allocation " .. n)
    if not fired then
      T.ok(ok, tostring(err))
      return failures
    end
    if not ok then
      failures = failures + 1
      T.ok(tostring(err):find("not enough memory", 1, true), "allocation " .. n .. ": " .. tostring(err))
    end
  end
  error("fault loop did not finish")
end

T.case("allocation failure: clean errors, no leaks", function()
  local n = fault_loop(function()
    local c = new { capacity = 4, shards = 2 }
    c:put("s", "string")
    c:put("t", { 1, "two", { three = 3.0 } })
    T.same(c:get("t"), { 1, "two", { three = 3.0 } })
    c:fetch("f", function() return { "computed", ("x"):rep(200) } end)
    c:invalidate("", { prefix = true })
    c:free()
  end)
  T.ok(n >= 5, "failures seen: " .. n)
end)

T.done()
