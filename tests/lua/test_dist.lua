-- rp.dist in a single process (not started by mpirun): rank 0 of 1, the
-- exchanges are identities, and the values a script can send; the runs on
-- 2 and 3 processes are tests/e2e/dist.sh.
local rp = require "recpipe"
local T = require "recpipe.test"
local d = rp.dist

T.case("a single process: rank 0 of 1, not launched", function()
  T.eq(d.rank(), 0)
  T.eq(d.size(), 1)
  T.eq(d.launched(), false)
  d.barrier()
  T.same(d.stats(), { bytes_sent = 0 })
end)

T.case("gather: every value kind round-trips", function()
  local v = { 1, 2.5, -7, "text\0with zero", true, false, { nested = { deep = 3 } },
              [10] = "sparse", [0.5] = "float key", big = math.maxinteger }
  local g = d.gather(v)
  T.eq(#g, 1)
  T.same(g[1], v)
  T.eq(math.type(g[1][1]), "integer")
  T.eq(math.type(g[1][2]), "float")
  T.same(d.gather(nil), {})
  T.same(d.gather("s"), { "s" })
end)

T.case("sum: numbers and tables of numbers, integers stay integers", function()
  T.eq(d.sum(3), 3)
  T.eq(math.type(d.sum(3)), "integer")
  T.eq(d.sum(0.25), 0.25)
  local t = { a = 1, b = { c = 0.5 } }
  local s = d.sum(t)
  T.same(s, t)
  s.a = 99
  T.eq(t.a, 1, "the sum is a new table")
end)

T.case("range: this rank's share of 1..n", function()
  T.same({ d.range(10) }, { 1, 10 })
  T.same({ d.range(0) }, { 1, 0 })
end)

T.case("bad values name the function and the kind", function()
  T.errors(function() d.gather(print) end, "rp.dist.gather: a function cannot be sent")
  T.errors(function() d.sum("x") end, "rp.dist.sum: rank 0 gave a string")
  T.errors(function() d.sum({ a = "x" }) end, "rank 0 gave a string in a table")
  T.errors(function() d.sum({ a = { b = io.stdout } }) end, "cannot be sent")
  local deep = {}
  local t = deep
  for _ = 1, 70 do
    t.x = {}
    t = t.x
  end
  T.errors(function() d.gather(deep) end, "nested deeper than 64")
  T.errors(function() d.range(-1) end, "count >= 0")
end)

-- day files whose users and items overlap: ids first seen on a later day
-- get later indices, as in one file holding the days in order
local dir = T.tmpdir()
local days, all = {}, { "user,item,value,time,type,device" }
do
  local r = 7
  local function rnd(m)
    r = (r * 1103515245 + 12345) % 2147483648
    return (r >> 16) % m
  end
  local types = { "view", "click", "buy" }
  for day = 1, 4 do
    local lines = { "user,item,value,time,type,device" }
    for i = 1, 50 do
      local line = ("u%d,i%d,%d,%d,%s,%s"):format(rnd(10 + 5 * day), rnd(8 + 4 * day), 1 + rnd(5),
        1700000000 + day * 86400 + i, types[1 + rnd(day == 3 and 3 or 2)],
        day % 2 == 0 and "mobile" or "web")
      lines[#lines + 1] = line
      all[#all + 1] = line
    end
    days[day] = ("%s/day%d.csv"):format(dir, day)
    T.write(days[day], table.concat(lines, "\n") .. "\n")
  end
  T.write(dir .. "/all.csv", table.concat(all, "\n") .. "\n")
end
local OPT = { value = "value", time = "time", event = "type", context = { "device" } }

local function dump(ev)
  local path = dir .. "/dump.csv"
  ev:write(path)
  local f = assert(io.open(path))
  local text = f:read("a")
  f:close()
  return text .. table.concat(ev.users:ids(), ",") .. "\n" .. table.concat(ev.items:ids(), ",")
end

T.case("read_events over a list: the log of the files in order", function()
  local one, r1 = rp.io.read_events(dir .. "/all.csv", OPT)
  local ev, rep = rp.io.read_events(days, OPT)
  T.eq(dump(ev), dump(one))
  T.eq(rep.files, 4)
  T.eq(rep.rows, 200)
  T.eq(rep.lines, r1.lines)
  T.eq(rep.sep, ",")
  T.same(ev:event_types(), { "view", "click", "buy" }, "type names merged in order of first use")
  T.eq(ev.users:id(1), one.users:id(1))
end)

T.case("read_events over a glob: files in name order", function()
  local ev, rep = rp.io.read_events(dir .. "/day?.csv", OPT)
  T.eq(dump(ev), dump(rp.io.read_events(days, OPT)))
  T.eq(rep.files, 4)
  T.errors(function() rp.io.read_events(dir .. "/none*.csv") end, "no file matches '" .. dir .. "/none*.csv'")
end)

T.case("read_events over a list onto given maps: the maps grow", function()
  local first = rp.io.read_events(days[1], OPT)
  local n0 = #first.users
  local rest = rp.io.read_events({ days[2], days[3] }, { users = first.users, items = first.items })
  T.ok(rest.users == first.users, "the given map object")
  T.ok(#first.users > n0, "new users appended")
  local ref = rp.io.read_events(days[1], OPT)
  rp.io.read_events(days[2], { users = ref.users, items = ref.items })
  rp.io.read_events(days[3], { users = ref.users, items = ref.items })
  T.same(first.users:ids(), ref.users:ids())
  local known = rp.io.read_events(days[1])
  local n1 = #known.users
  local _, rep = rp.io.read_events({ days[4], days[4] },
    { users = known.users, items = known.items, unknown = "drop" })
  T.eq(#known.users, n1, "unknown = drop: the map does not grow")
  T.ok(rep.dropped_unknown > 0)
end)

T.case("read_events over a list: bad lists and missing files", function()
  T.errors(function() rp.io.read_events({}) end, "empty list of files")
  T.errors(function() rp.io.read_events({ days[1], 3 }) end, "file 2 is a number")
  T.errors(function() rp.io.read_events({ days[1], dir .. "/gone.csv" }) end,
    "cannot open '" .. dir .. "/gone.csv'")
end)

T.done()
