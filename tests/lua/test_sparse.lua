-- Lua tests for rp.sparse: every Matrix/Dense method and its bad arguments.
local rp = require "recpipe"
local T = require "recpipe.test"

-- [[u1: i1=1, i3=3], [u2: -], [u3: i1=2, i2=4]] with u2 known but empty
local function hand()
  local m = rp.sparse.from_triplets({ { "u1", "i1", 1 }, { "u1", "i3", 3 }, { "u3", "i1", 2 },
    { "u3", "i2", 4 } })
  return m
end

local function triplets_of(m)
  local out = {}
  for u, row in pairs(m:totable()) do
    for i, v in pairs(row) do out[#out + 1] = u .. "/" .. i .. "=" .. v end
  end
  table.sort(out)
  return table.concat(out, " ")
end

T.case("from_triplets, fields, tostring", function()
  local m = hand()
  T.eq(m.nrows, 2) -- u1, u3 (no entry names u2)
  T.eq(m.ncols, 3)
  T.eq(m.nnz, 4)
  T.eq(tostring(m), "recpipe.Matrix(2 x 3, 4 non-zeros)")
  T.eq(#m.users, 2)
  T.eq(#m.items, 3)
  T.eq(m.users:id(1), "u1")
  T.eq(m.items:index("i2"), 3)
  T.eq(m.nosuchfield, nil)
end)

T.case("from_triplets aggregation and shared maps", function()
  local tr = { { "a", "x", 1 }, { "a", "x", 5 }, { "a", "x", 2 }, { "b", "y" } }
  T.eq(rp.sparse.from_triplets(tr):value("a", "x"), 8)
  T.eq(rp.sparse.from_triplets(tr, { aggregate = "max" }):value("a", "x"), 5)
  T.eq(rp.sparse.from_triplets(tr, { aggregate = "count" }):value("a", "x"), 3)
  T.eq(rp.sparse.from_triplets(tr, { aggregate = "last" }):value("a", "x"), 2)
  T.eq(rp.sparse.from_triplets(tr):value("b", "y"), 1)
  local m = rp.sparse.from_triplets(tr)
  local m2 = rp.sparse.from_triplets({ { "c", "x" } }, { users = m.users, items = m.items })
  T.ok(m2.users == m.users and m2.items == m.items, "maps shared")
  T.eq(m2.nrows, 3)
  T.eq(m2:value("c", "x"), 1)
  -- numbers are ids by their text
  local n = rp.sparse.from_triplets({ { 17, 3, 2.5 } })
  T.eq(n:value("17", "3"), 2.5)
  T.eq(n:value(17, 3), 2.5)
  T.errors(function() rp.sparse.from_triplets({ { "a" } }) end, "entry 1: item id must be")
  T.errors(function() rp.sparse.from_triplets({ "a" }) end, "entry 1 must be a table")
  T.errors(function() rp.sparse.from_triplets({ { "a", "b", "x" } }) end,
    "value must be a number")
  T.errors(function() rp.sparse.from_triplets({ { "a", "b", 0 / 0 } }) end, "non-finite")
  T.errors(function() rp.sparse.from_triplets({}, { aggregate = "avg" }) end,
    "field 'aggregate' must be one of 'sum', 'max', 'count', 'last', got 'avg'")
  T.errors(function() rp.sparse.from_triplets({}, { users = 3 }) end,
    "field 'users' must be a recpipe.IdMap")
  T.errors(function() rp.sparse.from_triplets({}, { user = 3 }) end, "unknown option 'user'")
  T.errors(function() rp.sparse.from_triplets("x") end, "table expected")
end)

T.case("row and value", function()
  local m = hand()
  local items, values = m:row("u1")
  T.same(items, { "i1", "i3" })
  T.same(values, { 1, 3 })
  items, values = m:row("u3")
  T.same(items, { "i1", "i2" })
  T.same(values, { 2, 4 })
  local a, msg = m:row("nobody")
  T.eq(a, nil)
  T.eq(msg, "unknown user id 'nobody'")
  T.eq(m:value("u1", "i3"), 3)
  T.eq(m:value("u1", "i2"), 0)
  a, msg = m:value("u1", "zz")
  T.eq(a, nil)
  T.eq(msg, "unknown item id 'zz'")
  a, msg = m:value("zz", "i1")
  T.eq(msg, "unknown user id 'zz'")
  T.errors(function() m:row() end, "bad argument #1 to 'row'")
end)

T.case("rows past the end when the maps grew", function()
  local m = hand()
  -- a later matrix on the same maps adds user u9 and item i9
  local later = rp.sparse.from_triplets({ { "u9", "i9" } }, { users = m.users, items = m.items })
  T.eq(#m.users, 3)
  T.eq(m.nrows, 2)
  local items, values = m:row("u9")
  T.same(items, {})
  T.same(values, {})
  T.eq(m:value("u9", "i9"), 0)
  T.eq(later:value("u9", "i9"), 1)
end)

T.case("transpose", function()
  local m = hand()
  local t = m:transpose()
  T.eq(t.nrows, 3)
  T.eq(t.ncols, 2)
  T.ok(t.users == m.items and t.items == m.users, "maps swapped")
  local users, values = t:row("i1")
  T.same(users, { "u1", "u3" })
  T.same(values, { 1, 2 })
  T.eq(triplets_of(t:transpose()), triplets_of(m))
  T.eq(triplets_of(m:transpose { threads = 2 }:transpose { threads = 1 }), triplets_of(m))
  T.errors(function() m:transpose { threads = -1 } end, "field 'threads'")
  T.errors(function() m:transpose { thread = 1 } end, "unknown option 'thread'")
end)

T.case("kcore", function()
  -- u1..u4 x i1..i3; u4 has one item; i3 only u1 and u4
  local m = rp.sparse.from_triplets({
    { "u1", "i1" }, { "u1", "i2" }, { "u1", "i3" },
    { "u2", "i1" }, { "u2", "i2" },
    { "u3", "i1" }, { "u3", "i2" },
    { "u4", "i3" } })
  local k, rep = m:kcore { min_user = 2, min_item = 2 }
  -- round 1 drops u4 (1 item); round 2 drops i3 (then only u1)
  T.same(rep, { users_removed = 1, items_removed = 1, interactions_removed = 2, users = 3,
    items = 2, nnz = 6, rounds = 2 })
  T.eq(k.nrows, m.nrows)
  T.eq(k.ncols, m.ncols)
  T.ok(k.users == m.users and k.items == m.items, "same maps")
  T.same(k:row("u4"), {})
  T.same((k:row("u1")), { "i1", "i2" })
  -- empties everything
  local e, rep2 = m:kcore { min_user = 5, min_item = 1 }
  T.eq(e.nnz, 0)
  T.eq(rep2.users, 0)
  T.eq(rep2.users_removed, 4)
  T.eq(rep2.items_removed, 3)
  -- defaults keep everything
  local same, rep3 = m:kcore()
  T.eq(same.nnz, m.nnz)
  T.eq(rep3.rounds, 0)
  T.errors(function() m:kcore { min_user = -1 } end,
    "bad argument #1 to 'kcore' (field 'min_user' must be a non-negative integer, got -1)")
  T.errors(function() m:kcore { min_item = 1.5 } end, "field 'min_item' must be an integer")
  T.errors(function() m:kcore { min_users = 2 } end, "unknown option 'min_users'")
  T.errors(function() m:kcore(3) end, "table expected")
end)

T.case("counts", function()
  local m = hand()
  local rc, cc = m:row_counts(), m:col_counts()
  T.eq(tostring(rc), "recpipe.Dense(2 x 1)")
  T.eq(rc.rows, 2)
  T.eq(rc.cols, 1)
  T.same(rc:totable(), { 2, 2 })
  T.same(cc:totable(), { 2, 1, 1 })
  T.eq(#cc, 3)
  T.eq(cc:get(1), 2)
  T.eq(cc:get(3, 1), 1)
  T.same(cc:row(2), { 1 })
  T.errors(function() cc:get(4) end, "row out of range")
  T.errors(function() cc:get(1, 2) end, "column out of range")
  cc:free()
  T.eq(tostring(cc), "recpipe.Dense(freed)")
  T.errors(function() cc:get(1) end, "attempt to use a freed recpipe.Dense")
end)

T.case("transforms", function()
  local m = hand()
  local s = m:scale(2.5)
  T.eq(s:value("u1", "i3"), 7.5)
  T.eq(s.nnz, m.nnz)
  T.ok(s.users == m.users, "same maps")
  local l = m:log1p(2, 0.5)
  T.near(l:value("u3", "i2"), 1 + 2 * math.log(1 + 4 / 0.5), 1e-6)
  T.near(m:log1p():value("u1", "i1"), 1 + math.log(2), 1e-6) -- defaults alpha 1, eps 1
  local b = m:binarize()
  T.eq(b:sum(), 4)
  T.eq(b:value("u3", "i2"), 1)
  local b2 = m:binarize { threshold = 2 }
  T.eq(b2.nnz, 2)
  T.eq(b2:value("u1", "i1"), 0)
  -- bm25 by hand: N = 2 rows, df = {2, 1, 1}, row sums {4, 6}, mean 5
  local w = m:bm25 { k1 = 1.2, b = 0.75 }
  local n1, n3 = 0.25 + 0.75 * 4 / 5, 0.25 + 0.75 * 6 / 5
  T.near(w:value("u1", "i3"), 3 * 2.2 / (1.2 * n1 + 3) * (math.log(2) - math.log(2)), 1e-6)
  T.near(w:value("u3", "i2"), 4 * 2.2 / (1.2 * n3 + 4) * (math.log(2) - math.log(2)), 1e-6)
  T.near(w:value("u1", "i1"), 1 * 2.2 / (1.2 * n1 + 1) * (math.log(2) - math.log(3)), 1e-6)
  local d = m:bm25()
  T.near(d:value("u1", "i1"), w:value("u1", "i1"), 1e-7) -- defaults k1 1.2, b 0.75
  T.errors(function() m:scale("x") end,
    "bad argument #1 to 'scale' (alpha must be a number, got string)")
  T.errors(function() m:scale(-1) end, "alpha must be a positive number")
  T.errors(function() m:scale() end, "bad argument #1 to 'scale'")
  T.errors(function() m:scale(1e39) end, "not finite")
  T.errors(function() m:log1p(1, 0) end, "eps must be a positive number")
  T.errors(function() m:log1p(0 / 0) end, "alpha must be a positive number")
  T.errors(function() m:bm25 { b = 2 } end, "field 'b' must be a number in [0, 1], got 2")
  T.errors(function() m:bm25 { k1 = -1 } end, "field 'k1'")
  T.errors(function() m:bm25 { k = 1 } end, "unknown option 'k'")
  T.errors(function() m:binarize { threshold = "1" } end, "field 'threshold' must be a number")
end)

T.case("sum, density, nonempty, stats, totable, copy", function()
  local m = hand()
  T.eq(m:sum(), 10)
  T.near(m:density(), 4 / 6)
  local nu, ni = m:nonempty()
  T.eq(nu, 2)
  T.eq(ni, 3)
  local st = m:stats()
  T.same(st, { nrows = 2, ncols = 3, nnz = 4, users = 2, items = 3, density = 4 / 6, sum = 10,
    min = 1, max = 4, mean = 2.5 })
  T.same(m:totable(), { u1 = { i1 = 1, i3 = 3 }, u3 = { i1 = 2, i2 = 4 } })
  local c = m:copy()
  T.eq(triplets_of(c), triplets_of(m))
  local e = m:kcore { min_user = 9 }
  T.same(e:totable(), {})
  T.eq(e:stats().min, nil)
  T.eq(e:density(), 0)
end)

T.case("free, close, freed use", function()
  local m = hand()
  m:free()
  T.eq(tostring(m), "recpipe.Matrix(freed)")
  T.errors(function() return m.nnz end, "attempt to use a freed recpipe.Matrix")
  T.errors(function() m:row("u1") end, "attempt to use a freed recpipe.Matrix")
  m:free() -- twice is fine
  local kept
  do
    local x <close> = hand()
    kept = x
    T.eq(x.nnz, 4)
  end
  T.eq(tostring(kept), "recpipe.Matrix(freed)")
  T.errors(function() rp.sparse.from_triplets({}).row(3) end, "recpipe.Matrix expected")
end)

T.case("save and load", function()
  local dir = T.tmpdir()
  local m = hand()
  for _, name in ipairs { "m.rpm", "m.rpm.gz" } do
    local path = dir .. "/" .. name
    T.eq(m:save(path), true)
    local l = rp.sparse.load(path)
    T.eq(tostring(l), tostring(m))
    T.eq(triplets_of(l), triplets_of(m))
    T.same(l.users:ids(), m.users:ids())
    T.same(l.items:ids(), m.items:ids())
  end
  -- a file with a header but a damaged byte further on
  local f = assert(io.open(dir .. "/m.rpm", "rb"))
  local bytes = f:read("a")
  f:close()
  local at = #bytes - 6
  local bad = bytes:sub(1, at - 1) .. string.char((bytes:byte(at) + 1) % 256) .. bytes:sub(at + 1)
  T.write(dir .. "/bad.rpm", bad)
  T.errors(function() rp.sparse.load(dir .. "/bad.rpm") end, "corrupted matrix file (CRC mismatch")
  T.write(dir .. "/short.rpm", bytes:sub(1, 70))
  T.errors(function() rp.sparse.load(dir .. "/short.rpm") end, "truncated")
  T.write(dir .. "/x.csv", "user,item\na,b\n")
  T.errors(function() rp.sparse.load(dir .. "/x.csv") end, "not a recpipe matrix file")
  T.errors(function() rp.sparse.load(dir .. "/missing.rpm") end, "cannot open")
  T.errors(function() rp.sparse.load() end, "bad argument #1 to 'load'")
  T.errors(function() m:save() end, "bad argument #1 to 'save'")
  T.errors(function() m:save(dir .. "/l.rpm.gz", { level = 0 }) end,
    "field 'level' must be an integer in 1..9, got 0")
  T.errors(function() m:save(dir .. "/l.rpm.gz", { lvl = 1 }) end, "unknown option 'lvl'")
  T.eq(m:save(dir .. "/l9.rpm.gz", { level = 9 }), true)
  T.eq(triplets_of(rp.sparse.load(dir .. "/l9.rpm.gz")), triplets_of(m))
  T.errors(function() m:value("u1") end, "bad argument #2 to 'value'")
  T.errors(function() m:log1p(1, "e") end, "eps must be a number, got string")
  -- an unwritable place: an error, and no temporary file left behind
  T.errors(function() m:save("/nonexistent-dir/m.rpm") end, "/nonexistent-dir/m.rpm")
  os.execute("mkdir -p '" .. dir .. "/ro' && chmod 555 '" .. dir .. "/ro'")
  local ok = pcall(m.save, m, dir .. "/ro/m.rpm")
  local p = io.popen("ls -A '" .. dir .. "/ro'")
  local listing = p:read("a")
  p:close()
  os.execute("chmod 755 '" .. dir .. "/ro'")
  -- root writes anyway; otherwise the save fails and leaves nothing behind
  T.eq(listing, ok and "m.rpm\n" or "", "only a finished file, never a temporary one")
  -- saving onto a directory fails at the rename and leaves no temporary file
  os.execute("mkdir -p '" .. dir .. "/target.rpm'")
  T.errors(function() m:save(dir .. "/target.rpm") end, "cannot rename")
  p = io.popen("ls -A '" .. dir .. "' | grep -c '\\.tmp\\.' ")
  T.eq(p:read("l"), "0")
  p:close()
end)

T.case("to_matrix and kcore on a read log", function()
  local dir = T.tmpdir()
  local rows = { "user,item,value,ts" }
  -- 6 users x 5 items, user k sees items 1..k (capped at 5), item value k
  for u = 1, 6 do
    for i = 1, math.min(u, 5) do rows[#rows + 1] = ("u%d,i%d,%d,%d"):format(u, i, u, 100 + i) end
  end
  rows[#rows + 1] = "u6,i1,10,99" -- a repeat, earlier in time
  T.write(dir .. "/log.csv", table.concat(rows, "\n") .. "\n")
  local ev = rp.io.read_events(dir .. "/log.csv", { user = "user", item = "item", value = "value",
    time = "ts" })
  local m = ev:to_matrix()
  T.eq(m.nnz, 20)
  T.eq(m:value("u6", "i1"), 16)
  T.eq(ev:to_matrix { aggregate = "last" }:value("u6", "i1"), 6) -- t=101 beats t=99
  T.eq(ev:to_matrix { aggregate = "max" }:value("u6", "i1"), 10)
  T.eq(ev:to_matrix { aggregate = "count" }:value("u6", "i1"), 2)
  local k, rep = m:kcore { min_user = 3, min_item = 4 }
  -- users 1, 2 go (round 1); items with >= 4 of u3..u6: i1, i2, i3 (4 each); i4 has 3, i5 2
  T.eq(rep.users_removed, 2)
  T.same((k:row("u6")), { "i1", "i2", "i3" })
  T.eq(rep.items, 3)
  T.eq(k.users, ev.users)
end)

T.case("load onto existing maps, align", function()
  local dir = T.tmpdir()
  local train = rp.sparse.from_triplets({ { "a", "x", 1 }, { "b", "y", 2 } })
  local test = rp.sparse.from_triplets({ { "c", "x", 5 }, { "a", "z", 3 } },
    { users = train.users, items = train.items })
  test:save(dir .. "/test.rpm")
  -- loaded alone it has its own maps (equal ids, a different object)
  local alone = rp.sparse.load(dir .. "/test.rpm")
  T.ok(alone.users ~= train.users, "own maps")
  T.same(alone.users:ids(), { "a", "b", "c" })
  -- loaded onto the live maps it is aligned with train again
  local back = rp.sparse.load(dir .. "/test.rpm", { users = train.users, items = train.items })
  T.ok(back.users == train.users and back.items == train.items, "shared maps")
  T.eq(triplets_of(back), triplets_of(test))
  -- onto maps in another order: entries follow their ids, new ids are appended
  local other = rp.sparse.from_triplets({ { "c", "z" }, { "q", "x" } })
  local moved = alone:align { users = other.users, items = other.items }
  T.eq(triplets_of(moved), triplets_of(test))
  T.same(other.users:ids(), { "c", "q", "a", "b" })
  T.eq(moved:value("c", "x"), 5)
  T.errors(function() rp.sparse.load(dir .. "/test.rpm", { users = "x" }) end,
    "field 'users' must be a recpipe.IdMap")
  T.errors(function() rp.sparse.load(dir .. "/test.rpm", { user = train.users }) end,
    "unknown option 'user'")
  T.errors(function() alone:align() end, "table expected")
  T.errors(function() alone:align { items = 1 } end, "field 'items' must be a recpipe.IdMap")
  -- a damaged file never touches the given maps
  T.write(dir .. "/bad.rpm", "garbage")
  local n = #train.users
  T.errors(function() rp.sparse.load(dir .. "/bad.rpm", { users = train.users }) end,
    "not a recpipe matrix file")
  T.eq(#train.users, n)
end)

T.done()
