-- Lua tests of rp.io: read_events options and report, every Events and
-- IdMap method, and every bad-argument path.
local rp = require "recpipe"
local T = require "recpipe.test"

local dir = T.tmpdir()
local shop = T.write(dir .. "/shop.csv", table.concat({
  "user_id,sku,qty,ts,type,device,country",
  "u1,A,1,2024-01-01T00:00:00Z,view,mobile,DE",
  "u1,B,2,2024-01-02T00:00:00Z,purchase,desktop,FR",
  "u2,A,1,2024-01-03T00:00:00Z,addtocart,mobile,DE",
  "u3,C,3,2024-01-04T00:00:00Z,remove,tablet,US",
  "u2,B,1,2024-01-05T00:00:00Z,purchase,mobile,DE",
  "u1,A,1,2024-01-06T00:00:00Z,view,mobile,FR",
}, "\n") .. "\n")
local DAY, T0 = 86400, 1704067200 -- 2024-01-01

local function shop_events(extra)
  local o = { user = "user_id", item = "sku", time = "ts", event = "type",
              context = { "device", "country" } }
  for k, v in pairs(extra or {}) do o[k] = v end
  return rp.io.read_events(shop, o)
end

T.case("read_events: columns, report, ids", function()
  local ev, rep = shop_events()
  T.eq(#ev, 6)
  T.eq(#ev.users, 3)
  T.eq(#ev.items, 3)
  T.eq(rep.lines, 6)
  T.eq(rep.rows, 6)
  T.eq(rep.skipped, 0)
  T.eq(rep.dropped_type, 0)
  T.eq(rep.dropped_unknown, 0)
  T.eq(rep.sep, ",")
  T.eq(rep.fields, 7)
  T.same(rep.first_errors, {})
  T.ok(rep.bytes > 200 and rep.seconds >= 0)
  T.eq(ev.users:id(1), "u1")
  T.eq(ev.items:index("C"), 3)
  T.eq(ev.items:index("Z"), nil)
  T.same(ev.users:ids(), { "u1", "u2", "u3" })
  T.ok(ev:has_time())
  T.same(ev:event_types(), { "view", "purchase", "addtocart", "remove" })
  T.same(ev:context_names(), { "device", "country" })
  local a, b = ev:time_range()
  T.eq(a, T0)
  T.eq(b, T0 + 5 * DAY)
  T.same(ev:row(2), { user = "u1", item = "B", value = 1.0, time = T0 + DAY,
                      event = "purchase", device = "desktop", country = "FR" })
  T.ok(tostring(ev):find("recpipe.Events(6 events, 3 users, 3 items", 1, true))
  T.eq(tostring(ev.users), "recpipe.IdMap(3 ids)")
  T.ok(ev.users == ev.users)
end)

T.case("read_events: weights drop and count unlisted types", function()
  local ev, rep = shop_events { value = "qty", weights = { purchase = 5, addtocart = 3, view = 1 } }
  T.eq(#ev, 5)
  T.eq(rep.dropped_type, 1)
  -- value column times the weight
  T.eq(ev:row(2).value, 10.0)
  T.eq(ev:row(3).value, 3.0)
  T.same(ev:event_types(), { "view", "purchase", "addtocart" })
end)

T.case("weight: event type weights on a log already read", function()
  local ev = shop_events { value = "qty" }
  local w, dropped = ev:weight { purchase = 5, addtocart = 3, view = 1 }
  T.eq(#w, 5)
  T.eq(dropped, 1) -- the 'remove' row
  local vals = {}
  for i = 1, #w do vals[i] = w:row(i).value end
  T.same(vals, { 1, 5, 3, 5, 1 }) -- the weights, not the qty column
  T.eq(w:row(4).time, T0 + 4 * DAY)
  T.eq(w:row(4).device, "mobile")
  -- the same maps: C (only in the dropped row) and u3 keep their index
  T.eq(#w.items, 3)
  T.eq(w.items:index("C"), 3)
  T.eq(w.users:index("u3"), 3)
  T.same(w:event_types(), ev:event_types())
  local m = w:to_matrix()
  T.eq(m:stats().nrows, 3)
  -- multiply = true: qty times the weight, what read_events gives with a value column
  local wm = ev:weight({ purchase = 5, addtocart = 3, view = 1 }, { multiply = true })
  local rd = shop_events { value = "qty", weights = { purchase = 5, addtocart = 3, view = 1 } }
  T.eq(#wm, #rd)
  for i = 1, #rd do
    local a, b = wm:row(i), rd:row(i)
    T.eq(a.user, b.user)
    T.eq(a.item, b.item)
    T.eq(a.value, b.value)
    T.eq(a.event, b.event)
  end
  -- without a value column the weighted read equals the plain weight
  local raw = shop_events()
  local rw = shop_events { weights = { purchase = 5, view = -1 } }
  local w2, d2 = raw:weight { purchase = 5, view = -1 }
  T.eq(d2, 2)
  T.eq(#w2, #rw)
  for i = 1, #rw do T.eq(w2:row(i).value, rw:row(i).value) end
  -- zero and negative weights are weights; types absent from the log are fine
  local w3, d3 = raw:weight { purchase = 0, addtocart = -2, view = 1, remove = 1, click = 4 }
  T.eq(d3, 0)
  T.eq(#w3, 6)
  T.eq(w3:row(2).value, 0.0)
  T.eq(w3:row(3).value, -2.0)
  -- every type unlisted: an empty log on the same maps
  local w4, d4 = raw:weight { click = 1 }
  T.eq(#w4, 0)
  T.eq(d4, 6)
  T.eq(#w4.users, 3)
end)

T.case("weight: bad arguments", function()
  local ev = shop_events()
  T.errors(function() ev:weight() end, "bad argument #1 to 'weight' (must be a table "
    .. "{type = number, ...}, got no value)")
  T.errors(function() ev:weight(5) end, "must be a table {type = number, ...}, got number")
  T.errors(function() ev:weight {} end, "bad argument #1 to 'weight' (is empty)")
  T.errors(function() ev:weight { view = "x" } end,
    "must map event type names to finite numbers, got [view] = 'x'")
  T.errors(function() ev:weight { 5 } end,
    "must map event type names to finite numbers, got [1] = 5")
  T.errors(function() ev:weight { view = 0 / 0 } end, "must map event type names to finite numbers")
  T.errors(function() ev:weight { view = math.huge } end, "finite numbers, got [view] = inf")
  T.errors(function() ev:weight({ view = 1 }, { mult = true }) end,
    "unknown option 'mult' (known: multiply)")
  T.errors(function() ev:weight({ view = 1 }, { multiply = 1 }) end,
    "field 'multiply' must be a boolean")
  local many = {}
  for k = 1, 65 do many["t" .. k] = k end
  T.errors(function() ev:weight(many) end, "has more than 64 entries")
  local plain = rp.io.read_events(shop, { user = "user_id", item = "sku" })
  T.errors(function() plain:weight { view = 1 } end,
    "weight: the log has no event column (read it with the 'event' option)")
  T.errors(function() rp.io.read_events(shop, { user = "user_id", item = "sku", event = "type",
    weights = { 5 } }) end, "field 'weights' must map event type names to finite numbers, got [1] = 5")
end)

T.case("read_events: no header, positions, :: and tab", function()
  local p = T.write(dir .. "/r.dat", "1::10::5::978300760\n1::11::3::978302109\n2::10::4::978298413\n")
  local ev, rep = rp.io.read_events(p, { header = false, value = 3, time = 4 })
  T.eq(rep.sep, "::")
  T.eq(#ev, 3)
  T.eq(ev:row(3).time, 978298413)
  T.eq(ev:row(2).value, 3.0)
  p = T.write(dir .. "/u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
  ev, rep = rp.io.read_events(p, { header = false, value = 3, time = 4, threads = 1 })
  T.eq(rep.sep, "\t")
  T.eq(ev:row(1).user, "196")
  -- ids are byte-exact strings
  p = T.write(dir .. "/exact.csv", "user,item\n17850.0,1\n17850,1\n")
  ev = rp.io.read_events(p)
  T.eq(#ev.users, 2)
  T.eq(ev.users:index("17850.0"), 1)
  T.eq(ev.users:index(17850), 2)
end)

-- issue 8: a header-less first line of one field crashed the reader
T.case("read_events: one field per line, long first lines, max_line_bytes", function()
  local p = T.write(dir .. "/one.csv", ("abcdefghijklmnop\n"):rep(1000))
  local want = "one.csv:1: expected at least 2 fields (user, item), found 1"
  T.errors(function() rp.io.read_events(p, { header = false }) end, want)
  T.errors(function() rp.io.read_events(p, { header = false, threads = 1 }) end, want)
  T.errors(function() rp.io.read_events(T.write(dir .. "/three.csv", "abc"),
    { header = false, on_error = "skip" }) end, "three.csv:1: expected at least 2 fields")
  -- a first line longer than a read block: the separator is still found
  p = T.write(dir .. "/long1.tsv", ("x"):rep(3 * 1024 * 1024) .. "\tb\tc\nu\ti\tz\n")
  local ev, rep = rp.io.read_events(p, { header = false, context = { 3 } })
  T.eq(rep.sep, "\t")
  T.eq(#ev, 2)
  T.eq(#ev.users:id(1), 3 * 1024 * 1024)
  -- the line cap: an error naming the line, whatever on_error says
  p = T.write(dir .. "/cap.csv", "user,item\nu,i\n" .. ("u"):rep(100) .. ",i\nv,j\n")
  T.eq(#rp.io.read_events(p, { max_line_bytes = 102 }), 3)
  T.errors(function() rp.io.read_events(p, { max_line_bytes = 101, on_error = "skip" }) end,
    "cap.csv:3: line longer than max_line_bytes (101)")
end)

T.case("read_events: standard input", function()
  local bin = os.getenv("BIN") or "./recpipe"
  local script = T.write(dir .. "/stdin.lua", [[
    local rp = require "recpipe"
    local ev, rep = rp.io.read_events("-", { user = "user_id", item = "sku" })
    io.write(#ev, " ", #ev.items, " ", rep.sep)
  ]])
  local p = io.popen(("%s run --quiet %s < %s"):format(bin, script, shop))
  local out = p:read("a")
  p:close()
  T.eq(out, "6 3 ,")
end)

T.case("read_events: on_error skip, time_unit ms", function()
  local p = T.write(dir .. "/bad.csv", "user,item,t\na,b,1700000000123\nc,d\ne,f,x\ng,h,1000\n")
  T.errors(function() rp.io.read_events(p, { time = "t" }) end, "bad.csv:3: expected 3 fields, found 2")
  local ev, rep = rp.io.read_events(p, { time = "t", time_unit = "ms", on_error = "skip" })
  T.eq(#ev, 2)
  T.eq(rep.skipped, 2)
  T.eq(#rep.first_errors, 2)
  T.ok(rep.first_errors[2]:find("bad.csv:4: column 't': cannot parse 'x' as a time", 1, true))
  T.eq(ev:row(1).time, 1700000000)
  T.eq(ev:row(2).time, 1)
end)

T.case("read_events: onto existing maps, unknown = drop", function()
  local a = rp.io.read_events(T.write(dir .. "/a.csv", "user,item\nu1,i1\nu2,i2\n"))
  local p = T.write(dir .. "/b.csv", "user,item\nu3,i1\nu1,i2\nu1,i9\n")
  local b, rep = rp.io.read_events(p, { users = a.users, items = a.items, unknown = "drop" })
  T.eq(#b, 1)
  T.eq(rep.dropped_unknown, 2)
  T.ok(b.users == a.users)
  T.eq(#a.users, 2)
  local c = rp.io.read_events(p, { users = a.users, items = a.items })
  T.eq(#c, 3)
  T.eq(#a.users, 3) -- the shared map grew
  T.eq(a.users:id(3), "u3")
end)

T.case("filter: Lua predicate over a row view", function()
  local ev = shop_events()
  local seen = {}
  local f = ev:filter(function(r)
    seen[#seen + 1] = r.index
    return r.device == "mobile" and r.event ~= "addtocart" and r.time >= T0
  end)
  T.same(seen, { 1, 2, 3, 4, 5, 6 })
  T.eq(#f, 3)
  T.ok(f.users == ev.users)
  T.eq(f:row(2).user, "u2")
  T.eq(f:row(2).value, 1.0)
  local kept
  ev:filter(function(r) kept = r; return false end)
  T.errors(function() return kept.user end, "valid only inside the filter call")
  T.errors(function() ev:filter(function(r) return r.devcie end) end,
    "row has no field 'devcie' (fields: user, item, value, index, time, event, device, country)")
  T.errors(function() ev:filter(function() error("boom") end) end, "boom")
  T.errors(function() ev:filter(42) end, "function expected")
  T.eq(#ev:filter(function() return nil end), 0)
end)

T.case("where: time range, events, contexts, users, items", function()
  local ev = shop_events()
  T.eq(#ev:where { from = "2024-01-02", to = "2024-01-05" }, 3) -- [from, to)
  T.eq(#ev:where { from = T0 + DAY, to = T0 + 4 * DAY }, 3)
  T.eq(#ev:where { from = T0 + 5 * DAY }, 1)
  T.eq(#ev:where { events = "purchase" }, 2)
  T.eq(#ev:where { events = { "purchase", "view" } }, 4)
  T.eq(#ev:where { device = "mobile", country = { "DE" } }, 3)
  T.eq(#ev:where { users = { "u1", "nobody" } }, 3)
  T.eq(#ev:where { items = "A", users = "u2" }, 1)
  T.eq(#ev:where {}, 6)
  T.errors(function() ev:where { events = "purchse" } end,
    "field 'events' has unknown value 'purchse' (known: view, purchase, addtocart, remove)")
  T.errors(function() ev:where { device = "phone" } end, "field 'device' has unknown value 'phone'")
  T.errors(function() ev:where { colour = "red" } end,
    "unknown option 'colour' (known: from, to, events, users, items, device, country)")
  T.errors(function() ev:where { from = "yesterday" } end,
    "field 'from' must be Unix seconds or ISO 8601 text, got yesterday")
  T.errors(function() ev:where { events = { 1.5 } } end, "must be a string or a list of strings")
  T.errors(function() ev:where() end, "table expected")
  local plain = rp.io.read_events(shop, { user = "user_id", item = "sku" })
  T.errors(function() plain:where { from = 0 } end, "the log has no time column")
  T.errors(function() plain:where { events = "view" } end, "the log has no event column")
end)

T.case("stats", function()
  local st = shop_events { value = "qty" }:stats()
  T.eq(st.events, 6)
  T.eq(st.users, 3)
  T.eq(st.items, 3)
  T.eq(st.value_sum, 9.0)
  T.eq(st.tmin, T0)
  T.eq(st.tmax, T0 + 5 * DAY)
  T.same(st.event_types, { view = 2, purchase = 2, addtocart = 1, remove = 1 })
  T.same(st.contexts.device, { mobile = 4, desktop = 1, tablet = 1 })
  -- per user 3, 2, 1: sorted 1 2 3
  T.eq(st.per_user.min, 1.0)
  T.eq(st.per_user.median, 2.0)
  T.eq(st.per_user.p25, 1.5)
  T.near(st.per_user.p90, 2.8, 1e-12)
  T.eq(st.per_user.max, 3.0)
  T.eq(st.per_user.mean, 2.0)
  T.eq(st.per_item.max, 3.0)
  T.near(st.density, 6 / 9, 1e-12)
end)

T.case("to_matrix: aggregation, decay, errors", function()
  local ev = shop_events { value = "qty" }
  local m = ev:to_matrix()
  T.eq(m.nrows, 3)
  T.eq(m.ncols, 3)
  T.eq(m.nnz, 5)
  local items, vals = m:row("u1")
  T.same(items, { "A", "B" })
  T.same(vals, { 2.0, 2.0 })
  items, vals = ev:to_matrix { aggregate = "count" }:row("u1")
  T.same(vals, { 2.0, 1.0 })
  -- one day half-life, now = last event: u1/A = 1 * 2^-5 + 1 * 2^0
  items, vals = ev:to_matrix { half_life_days = 1 }:row("u1")
  T.near(vals[1], 1 + 1 / 32, 1e-6)
  T.near(vals[2], 2 / 16, 1e-6)
  items, vals = ev:to_matrix { half_life_days = 1, now = "2024-01-07", aggregate = "max" }:row("u1")
  T.near(vals[1], 0.5, 1e-6)
  items, vals = ev:to_matrix { aggregate = "last" }:row("u1")
  T.same(vals, { 1.0, 2.0 })
  T.errors(function() ev:to_matrix { aggregate = "mean" } end,
    "field 'aggregate' must be one of 'sum', 'max', 'count', 'last', got 'mean'")
  T.errors(function() ev:to_matrix { half_life_days = -3 } end, "field 'half_life_days'")
  T.errors(function() ev:to_matrix { half_life_days = 0 } end,
    "field 'half_life_days' must be a finite number > 0, got 0")
  T.errors(function() ev:to_matrix { now = 5 } end, "field 'now' needs half_life_days")
  T.errors(function() ev:to_matrix { decay = 1 } end, "unknown option 'decay'")
  local plain = rp.io.read_events(shop, { user = "user_id", item = "sku" })
  T.errors(function() plain:to_matrix { half_life_days = 7 } end,
    "half_life_days needs a time column")
end)

T.case("write: CSV round trip, gzip, atomic", function()
  local ev = shop_events { value = "qty" }
  for _, name in ipairs { "/rt.csv", "/rt.csv.gz" } do
    ev:write(dir .. name)
    local back = rp.io.read_events(dir .. name, { value = "value", time = "time", event = "event",
                                                  context = { "device", "country" } })
    T.eq(#back, #ev)
    for i = 1, #ev do T.same(back:row(i), ev:row(i)) end
  end
  local f = io.open(dir .. "/rt.csv")
  T.eq(f:read("l"), "user,item,value,time,event,device,country")
  T.eq(f:read("l"), "u1,A,1,1704067200,view,mobile,DE")
  f:close()
  T.errors(function() ev:write("/nonexistent-dir/x.csv") end, "cannot write '/nonexistent-dir/x.csv'")
  T.errors(function() ev:write() end, "string expected")
end)

T.case("IdMap methods", function()
  local m = rp.io.idmap { "a", "b", "a", 7 }
  T.eq(#m, 3)
  T.same(m:ids(), { "a", "b", "7" })
  T.eq(m:index("7"), 3)
  T.eq(m:index(7), 3)
  T.eq(m:add("c"), 4)
  T.eq(m:add("a"), 1)
  T.eq(m:id(4), "c")
  T.errors(function() m:id(0) end, "index out of range 1..4, got 0")
  T.errors(function() m:id(5) end, "index out of range 1..4, got 5")
  T.errors(function() m:index({}) end, "id must be a string, got table")
  T.errors(function() m:add(1.5) end, "id must be a string, got number")
  T.errors(function() rp.io.idmap { {} } end, "ids must be strings, got table at [1]")
  T.eq(#rp.io.idmap(), 0)
  -- read onto a map made in Lua
  local ev = rp.io.read_events(shop, { user = "user_id", item = "sku", users = m, unknown = "drop" })
  T.eq(#ev, 0)
  m:free()
  T.eq(tostring(m), "recpipe.IdMap(freed)")
  T.errors(function() return #m end, "attempt to use a freed recpipe.IdMap")
end)

T.case("free, close, tostring", function()
  local ev = shop_events()
  do
    local e2 <close> = shop_events()
    T.eq(#e2, 6)
  end
  ev:free()
  T.eq(tostring(ev), "recpipe.Events(freed)")
  T.errors(function() return #ev end, "attempt to use a freed recpipe.Events")
  T.errors(function() ev:stats() end, "attempt to use a freed recpipe.Events")
  ev:free() -- twice is harmless
end)

T.case("Events methods: bad arguments", function()
  local ev = shop_events()
  T.errors(function() ev:row(0) end, "row out of range 1..6, got 0")
  T.errors(function() ev:row(7) end, "row out of range 1..6, got 7")
  T.errors(function() ev:row("x") end, "number expected")
  T.errors(function() ev:to_matrix("sum") end, "table expected")
  T.errors(function() ev:to_matrix { aggregate = 1 } end, "field 'aggregate' must be a string")
  T.errors(function() ev:to_matrix { half_life_days = "x" } end,
    "field 'half_life_days' must be a number")
  T.errors(function() ev:to_matrix { half_life_days = 1, now = {} } end,
    "field 'now' must be Unix seconds or ISO 8601 text")
  T.errors(function() ev:where { to = true } end, "field 'to' must be Unix seconds or ISO 8601 text")
  T.errors(function() ev:where { users = { {} } } end, "field 'users' must be a string or a list")
  T.errors(function() ev:write({}) end, "string expected, got table")
  T.errors(function() ev.stats() end, "bad argument #1")
  T.errors(function() rp.io.idmap("a") end, "table expected")
  T.errors(function() ev.users:add() end, "id must be a string, got no value")
  T.errors(function() ev.users:id("one") end, "number expected")
  local cols, maps = ev:bytes()
  T.ok(cols >= 6 * (4 + 4 + 4 + 8 + 2 + 8) and maps > 0)
end)

T.case("read_events: bad arguments", function()
  local E = function(opts, pat) T.errors(function() rp.io.read_events(shop, opts) end, pat) end
  T.errors(function() rp.io.read_events() end, "bad argument #1 to 'read_events'")
  T.errors(function() rp.io.read_events(dir .. "/missing.csv") end,
    "cannot open '" .. dir .. "/missing.csv': No such file or directory")
  E({ usr = "x" }, "unknown option 'usr' (known: sep, header, user, item, value, time, event, "
    .. "weights, context, time_unit, users, items, on_error, unknown, threads, max_line_bytes, time_context, time_zone)")
  E(5, "table expected")
  E({ sep = 1 }, "field 'sep' must be a string, got 1")
  E({ sep = "" }, "bad separator")
  E({ header = "yes" }, "field 'header' must be a boolean")
  E({ user = 0 }, "field 'user' must be a column name or a 1-based position, got 0")
  E({ user = true }, "field 'user' must be a column name or a 1-based position")
  E({ user = "user_id", item = "sku", time = "when" },
    "column 'when' not found in header (columns: user_id, sku, qty, ts, type, device, country)")
  T.errors(function() rp.io.read_events(T.write(dir .. "/ab.csv", "a,b\n1,2\n")) end,
    "ab.csv: no user column in header (columns: a, b); name it with the 'user' option")
  E({ user = "user_id", item = "sku", value = 99 }, "value column 99 requested, but line 1 has 7 fields")
  E({ user = "user_id", item = "sku", time_unit = "us" }, "field 'time_unit' must be one of 'auto', 's', 'ms'")
  E({ user = "user_id", item = "sku", on_error = "ignore" }, "field 'on_error' must be one of 'stop', 'skip'")
  E({ user = "user_id", item = "sku", unknown = "keep" }, "field 'unknown' must be one of 'add', 'drop'")
  E({ user = "user_id", item = "sku", users = {} }, "field 'users' must be a recpipe.IdMap, got table")
  E({ user = "user_id", item = "sku", context = "device" }, "field 'context' must be a list")
  E({ user = "user_id", item = "sku", context = { "dev" } }, "column 'dev' not found in header")
  E({ user = "user_id", item = "sku", weights = { view = 1 } }, "weights need an event column")
  E({ user = "user_id", item = "sku", event = "type", weights = { view = "x" } },
    "field 'weights' must map event type names to finite numbers")
  E({ user = "user_id", item = "sku", event = "type", weights = {} }, "field 'weights' is empty")
  E({ user = "user_id", item = "sku", threads = -1 }, "field 'threads' must be an integer in 0..256")
  E({ user = "user_id", item = "user_id" }, "column 'user_id' is used for both user and item")
  E({ user = "user_id", item = "sku", max_line_bytes = 0 },
    "field 'max_line_bytes' must be an integer in 1..1000000000000000, got 0")
  E({ user = "user_id", item = "sku", max_line_bytes = 1.5 }, "field 'max_line_bytes' must be an integer")
  T.errors(function() rp.io.read_events(shop, { user = "user_id", item = "sku", value = "type" }) end,
    "shop.csv:2: column 'type': cannot parse 'view' as a number")
end)

T.case("concat: several logs on one pair of maps", function()
  local p1 = T.write(dir .. "/day1.csv", "user_id,item_id,event,ts,device,rid\nu1,i1,view,10,mobile,r1\nu2,i2,buy,11,tablet,r2\n")
  local p2 = T.write(dir .. "/day2.csv", "user_id,item_id,event,ts,rid\nu3,i1,click,20,r9\nu1,i3,view,21,\n")
  local O = { user = "user_id", item = "item_id", event = "event", time = "ts" }
  local a = rp.io.read_events(p1, { user = "user_id", item = "item_id", event = "event",
    time = "ts", context = { "device", "rid" } })
  local b = rp.io.read_events(p2, { user = "user_id", item = "item_id", event = "event",
    time = "ts", context = { "rid" }, users = a.users, items = a.items })
  local c = rp.io.concat { a, b }
  T.eq(#c, 4)
  T.ok(c.users == a.users and c.items == a.items, "the maps are shared")
  T.same(c:context_names(), { "rid" }, "only the columns every log has")
  T.same(c:event_types(), { "view", "buy", "click" })
  T.same(c:row(3), { user = "u3", item = "i1", value = 1, time = 20, event = "click", rid = "r9" })
  T.eq(c:row(4).rid, "")
  T.eq(c:row(2).event, "buy")
  T.eq(#rp.io.concat { a }, 2)
  local untimed = rp.io.read_events(p2, { user = "user_id", item = "item_id", users = a.users,
    items = a.items })
  T.ok(not rp.io.concat({ a, untimed }):has_time(), "a time column only when all have one")
  T.errors(function() rp.io.concat {} end, "a non-empty list of recpipe.Events expected")
  T.errors(function() rp.io.concat { a, 5 } end, "item 2 is a number, not a recpipe.Events")
  T.errors(function() rp.io.concat(a) end, "table expected")
  T.errors(function() rp.io.concat { a, (rp.io.read_events(p2, O)) } end,
    "concat: log 2 is not on the first log's user and item maps")
end)

T.case("ev:kcore: the events of the matrix k-core's users and items", function()
  -- by hand, (2, 2)-core: users u1 {a,b,c} u2 {a,b} u3 {a,c} u4 {d} u5 {a,d};
  -- round 1 drops u4, then d has one user (u5): round 2 drops d, then u5
  -- has one item: round 3 drops u5.  Left: u1..u3 x a..c
  local p = T.write(dir .. "/kc.csv",
    "user,item,time\nu1,a,1\nu1,b,2\nu4,d,3\nu1,c,4\nu2,a,5\nu5,a,6\nu2,b,7\nu2,b,8\n"
    .. "u3,a,9\nu5,d,10\nu3,c,11\n")
  local ev = rp.io.read_events(p, { time = "time" })
  local k, rep = ev:kcore { min_user = 2, min_item = 2 }
  local got = {}
  for i = 1, #k do
    local r = k:row(i)
    got[i] = r.user .. r.item .. r.time
  end
  T.same(got, { "u1a1", "u1b2", "u1c4", "u2a5", "u2b7", "u2b8", "u3a9", "u3c11" })
  T.ok(k.users == ev.users and k.items == ev.items, "same maps")
  T.eq(rep.users, 3)
  T.eq(rep.items, 3)
  T.eq(rep.users_removed, 2)
  T.eq(rep.items_removed, 1)
  T.eq(rep.rounds, 3)
  T.eq(rep.events, 8)
  T.eq(rep.events_removed, 3)
  -- the matrix k-core keeps the same users and items
  local core = ev:to_matrix():kcore { min_user = 2, min_item = 2 }
  T.same({ core:nonempty() }, { 3, 3 })
  T.same(k:to_matrix():totable(), core:totable())
  -- thresholds count distinct items (u2's two b events are one): (3, 1)
  local k3 = ev:kcore { min_user = 3 }
  T.eq(#k3, 3)
  T.eq(k3:row(1).user, "u1")
  -- no thresholds: everything stays; nothing survives: empty, same maps
  T.eq(#ev:kcore(), #ev)
  local none = ev:kcore { min_user = 4 }
  T.eq(#none, 0)
  T.ok(none.users == ev.users)
  T.errors(function() ev:kcore { min_usr = 2 } end,
    "bad argument #1 to 'kcore' (unknown option 'min_usr' (known: min_user, min_item))")
  T.errors(function() ev:kcore { min_user = -1 } end, "field 'min_user'")
  T.errors(function() ev:kcore(3) end, "bad argument #1 to 'kcore' (table expected, got number)")
end)

T.case("time context: hour and weekday in a time zone, DST transitions by hand", function()
  -- Europe/Berlin 2024: CET -> CEST at 01:00 UTC on 31 March, back at
  -- 01:00 UTC on 27 October (02:30 local happens twice)
  local rows = {
    { 1711846799, 1, "sun", 0, "sun" },  -- 00:59:59 UTC = 01:59:59 CET
    { 1711846800, 3, "sun", 1, "sun" },  -- 01:00 UTC = 03:00 CEST (02:xx never happens)
    { 1729989000, 2, "sun", 0, "sun" },  -- 00:30 UTC = 02:30 CEST
    { 1729992600, 2, "sun", 1, "sun" },  -- 01:30 UTC = 02:30 CET
    { 1729994400, 3, "sun", 2, "sun" },  -- 02:00 UTC = 03:00 CET
    { 1704151800, 0, "tue", 23, "mon" }, -- 2024-01-01 23:30 UTC = 2 January 00:30 CET
    { 0, 1, "thu", 0, "thu" },           -- the epoch
    { -3600, 0, "thu", 23, "wed" },      -- before it
    { 2540289600, 14, "fri", 12, "fri" }, -- 2050-07-01 12:00 UTC: past the file's transitions (its rule)
  }
  local lines = { "user,item,time" }
  for i, r in ipairs(rows) do lines[#lines + 1] = ("u%d,i%d,%d"):format(i, i, r[1]) end
  local p = T.write(dir .. "/tc.csv", table.concat(lines, "\n") .. "\n")
  local ev = rp.io.read_events(p, { time = "time", time_context = { "hour", "weekday" },
    time_zone = "Europe/Berlin" })
  local utc = rp.io.read_events(p, { time = "time", time_context = { "hour", "weekday" } })
  T.same(ev:context_names(), { "hour", "weekday" })
  for i, r in ipairs(rows) do
    local b, u = ev:row(i), utc:row(i)
    T.eq(b.hour, tostring(r[2]), "Berlin hour of " .. r[1])
    T.eq(b.weekday, r[3], "Berlin weekday of " .. r[1])
    T.eq(u.hour, tostring(r[4]), "UTC hour of " .. r[1])
    T.eq(u.weekday, r[5], "UTC weekday of " .. r[1])
  end
  -- where filters on them; values never seen are still known (0..23, mon..sun)
  local twice = ev:where { hour = "2" }
  T.eq(#twice, 2)
  T.eq(twice:row(1).time, 1729989000)
  T.eq(#ev:where { weekday = "sun", hour = { "1", "3" } }, 3)
  T.eq(#ev:where { hour = "5" }, 0)
  T.eq(#ev:where { weekday = { "mon", "tue" } }, 1)
  T.errors(function() ev:where { weekday = "sunday" } end, "sunday")
  -- ev:stats sees them as contexts
  T.eq(ev:stats().contexts.weekday.sun, 5)
  -- a given context of the same name, no time column, bad names: errors
  T.errors(function() rp.io.read_events(p, { time_context = { "hour" } }) end,
    "tc.csv: time_context needs a time column (option 'time')")
  T.errors(function() rp.io.read_events(p, { time = "time", time_context = { "minute" } }) end,
    "field 'time_context' must be a list of hour, weekday, got 'minute'")
  T.errors(function() rp.io.read_events(p, { time = "time", time_context = { "hour" },
    time_zone = "Europe/Berln" }) end, "unknown time zone 'Europe/Berln'")
  T.errors(function() rp.io.read_events(p, { time = "time", time_context = { "hour" },
    time_zone = "../etc/passwd" }) end, "bad time zone name")
  local p2 = T.write(dir .. "/tc2.csv", "user,item,time,hour\nu,i,5,x\n")
  T.errors(function() rp.io.read_events(p2, { time = "time", context = { "hour" },
    time_context = { "hour" } }) end, "tc2.csv: time_context: the log already has a context column 'hour'")
end)

T.done()
