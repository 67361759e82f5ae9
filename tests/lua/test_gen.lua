-- rp.gen.events from Lua: options and their errors, the report against the
-- files written, reading the log back, determinism.
local rp = require "recpipe"
local T = require "recpipe.test"

local dir = T.tmpdir()

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function lines(path)
  local n = 0
  for _ in io.lines(path) do n = n + 1 end
  return n
end

local READ = { user = "user_id", item = "item_id", time = "timestamp", event = "event" }

T.case("report matches the files", function()
  local r = rp.gen.events { path = dir .. "/a.csv", items_path = dir .. "/items.csv",
    users_path = dir .. "/users.csv", truth_path = dir .. "/truth.csv",
    users = 300, items = 120, events = 12000, clusters = 6, seed = 7 }
  T.eq(r.events, 12000)
  T.eq(r.views + r.addtocarts + r.purchases, r.events)
  T.eq(r.clusters, 6)
  T.eq(r.users, 300)
  T.ok(r.items <= 120 and r.items > 100, "items in the log: " .. r.items)
  T.ok(r.sessions > 0 and r.sessions < r.events)
  T.eq(r.bytes, #slurp(dir .. "/a.csv"))
  T.eq(lines(dir .. "/a.csv"), 12001)
  T.eq(lines(dir .. "/items.csv"), 121)
  T.eq(lines(dir .. "/users.csv"), 301)
  T.eq(lines(dir .. "/truth.csv"), 421)
  -- 2024-01-01 .. +180 days
  T.ok(r.time_min >= 1704067200 and r.time_max < 1704067200 + 180 * 86400)
  local ev = rp.io.read_events(dir .. "/a.csv", READ)
  T.eq(#ev, r.events)
  T.eq(#ev.users, r.users)
  T.eq(#ev.items, r.items)
  T.eq(ev:to_matrix().nnz, r.pairs)
end)

T.case("truth file: every user and item with its cluster", function()
  local users, items, clusters = 0, 0, {}
  for line in io.lines(dir .. "/truth.csv") do
    local kind, id, c = line:match("^(%a+),(%w+),(%d+),")
    if kind == "user" then
      users = users + 1
      T.ok(id:match("^u%d+$"), id)
    elseif kind == "item" then
      items = items + 1
      T.ok(id:match("^i%d+$"), id)
    else
      T.eq(line, "kind,id,cluster,secondary,weight,since")
    end
    if c then clusters[tonumber(c)] = true end
  end
  T.eq(users, 300)
  T.eq(items, 120)
  for c = 1, 6 do T.ok(clusters[c], "cluster " .. c .. " used") end
end)

T.case("same options, same bytes; start as a date or seconds", function()
  local opts = { path = dir .. "/b.csv.gz", users = 100, items = 50, events = 3000, seed = 11,
    start = "2023-06-01" }
  rp.gen.events(opts)
  local first = slurp(dir .. "/b.csv.gz")
  opts.path = dir .. "/c.csv.gz"
  opts.start = 1685577600 -- 2023-06-01 00:00:00 UTC
  rp.gen.events(opts)
  T.ok(first == slurp(dir .. "/c.csv.gz"), "same bytes")
  opts.seed = 12
  rp.gen.events(opts)
  T.ok(first ~= slurp(dir .. "/c.csv.gz"), "another seed, other bytes")
  local ev = rp.io.read_events(dir .. "/b.csv.gz", READ)
  T.eq(#ev, 3000)
  -- another compression level: other bytes, the same text
  opts.seed, opts.gzip_level, opts.path = 11, 1, dir .. "/d.csv.gz"
  rp.gen.events(opts)
  T.ok(first ~= slurp(dir .. "/d.csv.gz"), "level 1 compresses differently")
  local function text(p)
    local f = io.popen("zcat " .. p)
    local s = f:read("a")
    f:close()
    return s
  end
  T.ok(text(dir .. "/b.csv.gz") == text(dir .. "/d.csv.gz"), "same text")
end)

T.case("iso timestamps", function()
  local r = rp.gen.events { path = dir .. "/iso.csv", users = 20, items = 10, events = 200,
    time_format = "iso", start = "2024-02-28" }
  local f = io.open(dir .. "/iso.csv")
  f:read("l")
  local row = f:read("l")
  f:close()
  T.ok(row:match(",2024%-0[23]%-%d%d %d%d:%d%d:%d%d,"), row)
  T.eq(r.events, 200)
end)

T.case("bad options are clear errors", function()
  local p = dir .. "/bad.csv"
  T.errors(function() rp.gen.events() end, "bad argument #1 to 'events' (table expected")
  T.errors(function() rp.gen.events { users = 10 } end, "field 'path' is required")
  T.errors(function() rp.gen.events { path = p, userz = 10 } end,
    "unknown option 'userz' (known: path, items_path")
  T.errors(function() rp.gen.events { path = p, users = 0 } end,
    "field 'users' must be an integer in 1..1000000000, got 0")
  T.errors(function() rp.gen.events { path = p, events = 1.5 } end,
    "field 'events' must be an integer, got 1.5")
  T.errors(function() rp.gen.events { path = p, affinity = 2 } end,
    "field 'affinity' must be a number in [0, 1], got 2")
  T.errors(function() rp.gen.events { path = p, affinity = 0.9, secondary = 0.5 } end,
    "'affinity' + 'secondary' must be <= 1")
  T.errors(function() rp.gen.events { path = p, items = 5, clusters = 8 } end,
    "'clusters' (8) must not exceed 'items' (5)")
  T.errors(function() rp.gen.events { path = p, start = "2024-02-30" } end,
    "field 'start' must be Unix seconds or an ISO 8601 date, got '2024-02-30'")
  T.errors(function() rp.gen.events { path = p, start = -5 } end, "field 'start'")
  T.errors(function() rp.gen.events { path = p, gzip_level = 0 } end,
    "field 'gzip_level' must be an integer in 1..9, got 0")
  T.errors(function() rp.gen.events { path = p, time_format = "ms" } end,
    "field 'time_format' must be one of 'unix', 'iso', got 'ms'")
  T.errors(function() rp.gen.events { path = dir .. "/no/such/dir/x.csv" } end,
    "cannot write '" .. dir .. "/no/such/dir/x.csv'")
  T.ok(not io.open(p), "nothing written by failed calls")
end)

T.case("events given as a float with an integer value", function()
  local r = rp.gen.events { path = dir .. "/f.csv", users = 10, items = 5, events = 1e3 }
  T.eq(r.events, 1000)
end)

T.case("taste shift: option, determinism, truth rows", function()
  local base = { users = 200, items = 100, events = 8000, days = 28, start = "2024-03-01" }
  local function gen(name, shift)
    local o = { path = dir .. "/" .. name .. ".csv", truth_path = dir .. "/" .. name .. ".truth",
                shift = shift }
    for k, v in pairs(base) do o[k] = v end
    return rp.gen.events(o), slurp(o.path), slurp(o.truth_path)
  end
  local _, plain = gen("plain")
  local r1, s1, t1 = gen("s1", { at = "2024-03-15" })
  local _, s2 = gen("s2", { at = 1710460800, users = 0.5, items = 0.5, tilt = 1 })
  T.eq(r1.events, 8000)
  T.eq(s1, s2, "ISO and Unix 'at', defaults written out: same bytes")
  T.ok(s1 ~= plain, "the shift changes the log")
  -- every line before the shift is the unshifted log's
  local cut = s1:find("\n[^\n]*,17104[6-9]%d%d%d%d,") or s1:find("\n[^\n]*,171[1-9]%d+,")
  T.ok(cut and cut > 1000, "a prefix before the shift")
  T.eq(s1:sub(1, cut), plain:sub(1, cut))
  T.ok(t1:find("\nuser_shift,u%d+,%d+,%d+,[%d.e+-]+,1710460800\n"), "user_shift rows")
  T.ok(t1:find("\nitem_shift,i%d+,%d+,,[%d.e+-]+,1710460800\n"), "item_shift rows")
  local _, none = gen("none", { at = "2024-03-15", users = 0, items = 0, tilt = 0 })
  T.eq(none, plain, "a shift of strength 0 changes nothing")

  local p = dir .. "/bad.csv"
  T.errors(function() rp.gen.events { path = p, shift = 5 } end,
    "field 'shift' must be a table {at = time, users, items, tilt}, got number")
  T.errors(function() rp.gen.events { path = p, shift = {} } end,
    "field 'shift' needs 'at'")
  T.errors(function() rp.gen.events { path = p, shift = { at = "2024-03-01", user = 1 } } end,
    "field 'shift' has an unknown key 'user' (known: at, users, items, tilt)")
  T.errors(function() rp.gen.events { path = p, shift = { at = "March" } } end,
    "field 'shift.at' must be Unix seconds or an ISO 8601 date, got 'March'")
  T.errors(function() rp.gen.events { path = p, shift = { at = 1.5 } } end,
    "field 'shift.at' must be Unix seconds or an ISO 8601 date, got 1.5")
  T.errors(function() rp.gen.events { path = p, shift = { at = "2024-03-01", items = "x" } } end,
    "field 'shift.items' must be a number, got string")
  T.errors(function() rp.gen.events { path = p, shift = { at = "2023-12-31" } } end,
    "'shift.at' must be inside the period [2024-01-01 00:00:00, 2024-06-29 00:00:00), got "
    .. "2023-12-31 00:00:00")
  T.errors(function() rp.gen.events { path = p, shift = { at = "2024-02-01", users = 2 } } end,
    "'shift.users' must be in [0, 1], got 2")
  T.ok(not io.open(p), "nothing written by failed calls")
end)

T.case("options: the core's descriptors, defaults equal from C and Lua", function()
  local o = rp.gen.options("events")
  T.same(rp.gen.options().events.users, o.users)
  T.eq(o.users.default, 1000)
  T.eq(o.users.min, 1)
  T.eq(o.items.default, 500)
  T.eq(o.events.default, 20000)
  T.eq(o.start.type, "time")
  T.eq(o.start.default, 1704067200) -- 2024-01-01 00:00:00 UTC
  T.same(o.time_format.values, { "unix", "iso" })
  T.eq(o.time_format.default, "unix")
  T.eq(o.affinity.max, 1)
  T.eq(o.shift.type, "other")
  T.eq(o[1].name, "path")
  -- an unknown key names itself and lists every known one, in order
  local names = {}
  for i, e in ipairs(o) do names[i] = e.name end
  T.errors(function() rp.gen.events { path = dir .. "/x.csv", sesion = 3 } end,
    "unknown option 'sesion' (known: " .. table.concat(names, ", ") .. ")")
  -- every default spelt out from options() gives the bytes of no options at all
  local small = { users = 60, items = 40, events = 800 }
  local a = { path = dir .. "/def_a.csv" }
  local b = { path = dir .. "/def_b.csv" }
  for _, e in ipairs(o) do
    if e.default ~= nil and e.name ~= "path" then b[e.name] = e.default end
  end
  for k, v in pairs(small) do a[k], b[k] = v, v end
  T.ok(b.seed == 42 and b.clusters == 0 and b.start == 1704067200, "defaults written out")
  rp.gen.events(a)
  rp.gen.events(b)
  T.eq(slurp(dir .. "/def_a.csv"), slurp(dir .. "/def_b.csv"))
  -- start given as ISO 8601 text is the same time
  b.path, b.start = dir .. "/def_c.csv", "2024-01-01"
  rp.gen.events(b)
  T.eq(slurp(dir .. "/def_c.csv"), slurp(dir .. "/def_a.csv"))
end)

T.done()
