-- The host as scripts see it: the package, paths, memory accounting, clock,
-- logging levels, and allocation failures surfacing as clean Lua errors.
local before = {}
for k in pairs(_G) do before[k] = true end
-- the data model's types are the runtime's: there before any module loads
local loaded_before = package.loaded["recpipe.io"] or package.loaded["recpipe.sparse"]
local types_before = {}
for _, t in ipairs { "IdMap", "Events", "Matrix", "Dense" } do
  local mt = debug.getregistry()["recpipe." .. t]
  types_before[t] = type(mt) == "table" and mt.__name == "recpipe." .. t
    and (mt.methods or mt.__index) or false
end
local rp = require "recpipe"
local T = require "recpipe.test"

T.case("IdMap, Events, Matrix and Dense are registered before any module", function()
  T.ok(not loaded_before, "rp.io or rp.sparse was loaded before the script")
  T.ok(types_before.IdMap and types_before.IdMap.ids, "IdMap:ids")
  T.ok(types_before.Events and types_before.Events.to_matrix, "Events:to_matrix")
  T.ok(types_before.Matrix and types_before.Matrix.kcore, "Matrix:kcore")
  T.ok(types_before.Dense and types_before.Dense.totable, "Dense:totable")
  -- whatever made the matrix, its methods are the runtime's
  local m = rp.sparse.from_triplets { { "u1", "i1", 2 }, { "u2", "i1", 1 }, { "u2", "i2", 3 } }
  T.eq(m:kcore { min_user = 2, min_item = 1 }.nnz, 2)
  T.eq(#m:row_counts(), 2)
end)

T.case("require adds no globals and returns one package", function()
  for k in pairs(_G) do
    T.ok(before[k], "new global '" .. tostring(k) .. "'")
  end
  T.eq(require "recpipe", rp)
  for _, m in ipairs { "io", "sparse", "gen", "config", "log" } do
    T.eq(type(rp[m]), "table", "rp." .. m)
  end
  T.ok(rp.version:match("^%d+%.%d+%.%d+$"), "version " .. rp.version)
end)

T.case("paths point at the binary and the package files", function()
  T.eq(type(rp.paths.exe), "string")
  local f = io.open(rp.paths.exe, "rb")
  T.ok(f, "exe readable: " .. rp.paths.exe)
  T.eq(f:read(4), "\127ELF")
  f:close()
  f = io.open(rp.paths.lua .. "/init.lua", "r")
  T.ok(f, "init.lua in " .. rp.paths.lua)
  f:close()
  T.ok(rp.paths.pipelines:match("pipelines$"), rp.paths.pipelines)
end)

T.case("arg and varargs as lua sets them", function()
  T.eq(arg[0]:match("test_runtime%.lua$"), "test_runtime.lua")
  T.eq(arg[-1], "--quiet") -- tests/run.sh: recpipe run --quiet FILE
  T.eq(arg[-2], "run")
  T.eq(#arg, 0)
end)

T.case("memory accounting follows C objects", function()
  local m0 = rp.memory()
  for _, k in ipairs { "current", "peak", "lua" } do
    T.eq(math.type(m0[k]), "integer", k)
  end
  T.ok(m0.peak >= m0.current)
  local path = T.tmpdir() .. "/mem.csv"
  rp.gen.events { path = path, users = 200, items = 100, events = 20000 }
  collectgarbage()
  local base = rp.memory().current
  rp.reset_peak()
  T.eq(rp.memory().peak, base)
  local ev = rp.io.read_events(path, { user = "user_id", item = "item_id" })
  local grown = rp.memory().current
  -- two int32 columns and a float32 value per row at least
  T.ok(grown - base >= #ev * 12, ("grew by %d bytes for %d rows"):format(grown - base, #ev))
  ev:free()
  T.eq(rp.memory().current, base)
  T.ok(rp.memory().peak >= grown)
end)

T.case("clock and cores", function()
  local a = rp.clock()
  local x = 0
  for i = 1, 1e5 do x = x + i end
  T.ok(rp.clock() >= a)
  T.ok(math.type(rp.cores()) == "integer" and rp.cores() >= 1)
end)

T.case("log levels", function()
  local was = rp.log.level()
  T.eq(was, "warn") -- --quiet
  T.eq(rp.log.level("debug"), "debug")
  T.eq(rp.log.level(), "debug")
  rp.log.level(was)
  T.errors(function() rp.log.level("loud") end, "invalid option 'loud'")
  -- below the level: nothing printed, arguments not even formatted
  rp.log.info("%d", "not a number")
  T.errors(function() rp.log.warn("%d", "not a number") end,
    "bad argument #2 to 'warn' (number expected, got string)")
end)

T.case("_fail_alloc reports whether the armed failure fired", function()
  rp._fail_alloc(0)
  local path = T.tmpdir() .. "/arm.csv"
  rp._fail_alloc(1000000)
  rp.gen.events { path = path, users = 10, items = 5, events = 50, clusters = 2 }
  local fired, count = rp._fail_alloc(0)
  T.eq(fired, false)
  T.ok(count > 0, "allocations counted")
  rp._fail_alloc(1)
  T.errors(function() rp.gen.events { path = path, users = 10, items = 5, events = 50 } end,
    "not enough memory")
  fired = rp._fail_alloc(0)
  T.eq(fired, true)
end)

-- Runs fn with the n-th core allocation failing, n = 1, 2, ... until a run
-- completes: every failing run must raise a clean "not enough memory" error,
-- free what it built, and leave the process working.
local function fault_loop(fn)
  collectgarbage()
  collectgarbage()
  local base = rp.memory().current
  for n = 1, 100000 do
    rp._fail_alloc(n)
    local ok, err = pcall(fn)
    local fired = rp._fail_alloc(0)
    if ok then err = nil end -- drop the result before counting memory
    collectgarbage()
    collectgarbage()
    T.eq(rp.memory().current, base, "C memory after failing allocation " .. n)
    if not fired then
      T.ok(ok, tostring(err))
      return n - 1
    end
    T.ok(not ok, "allocation " .. n .. " failed but the call succeeded")
    T.ok(tostring(err):find("not enough memory", 1, true),
      "allocation " .. n .. ": " .. tostring(err))
  end
  error("fault loop did not finish")
end

T.case("allocation failures in read_events and to_matrix are clean errors", function()
  local path = T.tmpdir() .. "/fault.csv.gz"
  rp.gen.events { path = path, users = 60, items = 40, events = 3000, clusters = 4 }
  local want
  local failures = fault_loop(function()
    local ev = rp.io.read_events(path, { user = "user_id", item = "item_id", time = "timestamp",
      event = "event" })
    local m = ev:to_matrix()
    want = want or m.nnz
    T.eq(m.nnz, want)
    return m
  end)
  T.ok(failures > 10, "only " .. failures .. " allocations exercised")
  -- and the process keeps working
  local ev = rp.io.read_events(path, { user = "user_id", item = "item_id" })
  T.eq(#ev, 3000)
end)

T.case("allocation failures in gen.events are clean errors and leave no file", function()
  local dir = T.tmpdir() .. "/faultgen"
  os.execute("mkdir -p " .. dir)
  fault_loop(function()
    return rp.gen.events { path = dir .. "/e.csv", items_path = dir .. "/i.csv",
      users = 20, items = 10, events = 300, clusters = 2 }
  end)
  local p = io.popen("ls " .. dir)
  local names = p:read("a")
  p:close()
  T.eq(names, "e.csv\ni.csv\n") -- no temporary files left behind
end)

T.case("options: unknown keys listed; a report in the options slot is named as such", function()
  local m = rp.sparse.from_triplets { { "a", "x" }, { "a", "y" }, { "b", "x" }, { "b", "y" }, { "c", "x" } }
  -- kcore returns (matrix, report): unparenthesised as the last argument,
  -- the report becomes the options table
  local err = T.errors(function() rp.baseline.popularity(m:kcore { min_user = 1 }) end,
    "unknown option '")
  T.ok(err:find("is this the second value returned by another call", 1, true), err)
  -- parenthesised, it works
  T.ok(rp.baseline.popularity((m:kcore { min_user = 1 })))
  -- a plain typo gets the list of known options and no such hint
  err = T.errors(function() rp.baseline.item_knn(m, { kk = 3 }) end, "unknown option 'kk' (known: ")
  T.ok(not err:find("second value", 1, true), err)
end)

T.done()
