-- rp.monitor from Lua: the measure table and thresholds, window, list,
-- model and serving-log comparisons on small logs worked out by hand
-- (the same cases as tests/unit/test_monitor.c, through files and the
-- binding), the report tables, alerts, and every bad argument.
local rp = require "recpipe"
local T = require "recpipe.test"

local dir = T.tmpdir()
local function write(name, text)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

local READ = { user = "user_id", item = "item_id", time = "timestamp", event = "event",
               context = { "device" } }
-- a: u0 views i0, i1 on mobile; u1 buys i0 and views it on desktop.
-- b: u1 views i0; u2 views and buys i2; u3 views i1 and i0 twice (a tablet).
local A = write("a.csv", [[
user_id,item_id,event,timestamp,device
u0,i0,view,1,mobile
u0,i1,view,2,mobile
u1,i0,buy,3,desktop
u1,i0,view,4,desktop
]])
local B = write("b.csv", [[
user_id,item_id,event,timestamp,device
u1,i0,view,10,mobile
u2,i2,view,11,mobile
u2,i2,buy,12,mobile
u3,i1,view,13,desktop
u3,i0,view,14,desktop
u3,i0,view,15,tablet
]])
local a = rp.io.read_events(A, READ)
local b = rp.io.read_events(B, { user = "user_id", item = "item_id", time = "timestamp",
  event = "event", context = { "device" }, users = a.users, items = a.items })

T.case("measures and thresholds come from the C table", function()
  local ms = rp.monitor.measures()
  T.eq(#ms, 23)
  local by = {}
  for _, m in ipairs(ms) do by[m.name] = m end
  T.eq(by.item_psi.family, "windows")
  T.eq(by.item_psi.direction, "above")
  T.eq(by.jaccard.direction, "below")
  T.eq(by.activity_mean.direction, "abs")
  T.eq(by.ctr.default, false)
  T.ok(by.item_psi.what:find("PSI"))
  local t = rp.monitor.thresholds()
  for _, m in ipairs(ms) do T.eq(t[m.name], m.default, m.name) end
  t = rp.monitor.thresholds { item_psi = 0.3, volume = false }
  T.eq(t.item_psi, 0.3)
  T.eq(t.volume, false)
  T.eq(t.item_tv, by.item_tv.default)
  T.errors(function() rp.monitor.thresholds { itme_psi = 1 } end,
    "field 'thresholds': unknown measure 'itme_psi' (known: volume, item_psi")
  T.errors(function() rp.monitor.thresholds { item_tv = 2 } end,
    "the threshold of 'item_tv' must be in [0, 1], got 2")
  T.errors(function() rp.monitor.thresholds { item_tv = "high" } end,
    "'item_tv' must be a number or false (off), got string")
  T.errors(function() rp.monitor.thresholds { [1] = 0.5 } end, "must be keyed by measure names")
  T.errors(function() rp.monitor.thresholds(5) end, "table expected")
end)

T.case("windows: the hand-worked log", function()
  local r = rp.monitor.windows(a, b)
  T.near(r.volume, 0.5)
  T.near(r.item_psi, 2.8382532243304146, 1e-12)
  T.near(r.item_tv, 1 / 3, 1e-12)
  T.near(r.event_psi, 0.04256880198049924, 1e-12)
  T.near(r.event_tv, 1 / 12, 1e-12)
  T.near(r.context.device.psi, 1.3032658103857737, 1e-12)
  T.near(r.context.device.tv, 1 / 6, 1e-12)
  T.eq(r.context.device.bins, 3)
  T.near(r.context_psi, r.context.device.psi)
  T.near(r.new_users, 2 / 3)
  T.near(r.new_items, 1 / 3)
  T.near(r.new_user_events, 5 / 6)
  T.near(r.new_item_events, 2 / 6)
  T.near(r.activity_psi, 2.8382532243304146, 1e-12)
  T.eq(r.activity_mean, 0)
  T.eq(r.activity_median, 0)
  T.same(r.reference, { events = 4, users = 2, items = 2, activity_mean = 2, activity_median = 2 })
  T.same(r.current, { events = 6, users = 3, items = 3, activity_mean = 2, activity_median = 2 })
  T.eq(r.distributions.item.bins, 3)
  T.eq(#r.values, 12)
  T.eq(r.values[1].measure, "volume")
  local ctx = 0
  for _, v in ipairs(r.values) do if v.column then ctx = ctx + 1; T.eq(v.column, "device") end end
  T.eq(ctx, 2)
  T.eq(r.thresholds.item_psi, rp.monitor.thresholds().item_psi)
  T.eq(r.thresholds.jaccard, nil, "only the family's measures")
  -- default thresholds: these tiny windows are far apart
  local fired = {}
  for _, al in ipairs(r.alerts) do fired[al.measure .. (al.column and "." .. al.column or "")] = al end
  T.ok(fired.item_psi and fired.item_tv and fired["context_psi.device"], "alerts")
  T.eq(fired.item_psi.direction, "above")
  T.ok(fired.item_psi.message:find("^item_psi 2.838 > "), fired.item_psi.message)
  T.ok(fired["context_psi.device"].message:find("^context_psi%[device%] 1.303 > "))
  -- thresholds: off, raised, or set to fire
  local q = rp.monitor.windows(a, b, { thresholds = { item_psi = false, item_tv = 0.5,
    new_users = 0.6, context_psi = false, context_tv = false, activity_psi = false,
    event_psi = false, event_tv = false, new_items = false, volume = 0.4,
    activity_mean = 0.1 } })
  local names = {}
  for _, al in ipairs(q.alerts) do names[#names + 1] = al.measure end
  T.same(names, { "volume", "new_users" })
  T.eq(q.thresholds.item_psi, false)
  -- item_bins = 2: i0 keeps its bin, i1 and i2 share one
  local r2 = rp.monitor.windows(a, b, { item_bins = 2 })
  T.eq(r2.distributions.item.bins, 2)
  T.near(r2.item_tv, 0.25)
end)

T.case("windows: edges", function()
  local same = rp.monitor.windows(a, a)
  for _, v in ipairs(same.values) do T.eq(v.value, 0, v.measure) end
  T.eq(#same.alerts, 0)
  local empty = b:where { from = 1000 }
  local r = rp.monitor.windows(a, empty)
  T.eq(r.volume, -1)
  T.eq(r.item_psi, nil, "not measured: absent")
  T.eq(r.new_users, nil)
  T.eq(r.current.activity_mean, nil)
  T.eq(#r.alerts, 1)
  T.eq(r.alerts[1].measure, "volume")
  T.ok(r.alerts[1].message:find("|change| >", 1, true))
  -- no event column: event measures absent
  local plain = rp.io.read_events(B, { user = "user_id", item = "item_id", users = a.users,
    items = a.items })
  local p = rp.monitor.windows(a, plain)
  T.eq(p.event_psi, nil)
  T.eq(p.distributions.event, nil)
  T.same(p.context, {})
end)

T.case("windows: bad arguments", function()
  T.errors(function() rp.monitor.windows(nil, b) end,
    "bad argument #1 to 'windows' (recpipe.Events expected, got nil)")
  T.errors(function() rp.monitor.windows(a, {}) end, "bad argument #2 to 'windows'")
  T.errors(function() rp.monitor.windows(a, b, { bins = 3 }) end,
    "unknown option 'bins' (known: item_bins, context_bins, epsilon, thresholds)")
  T.errors(function() rp.monitor.windows(a, b, { item_bins = 1 }) end,
    "monitor: 'item_bins' must be in 2..100000000, got 1")
  T.errors(function() rp.monitor.windows(a, b, { item_bins = 2.5 }) end,
    "field 'item_bins' must be an integer")
  T.errors(function() rp.monitor.windows(a, b, { context_bins = 0 }) end, "'context_bins'")
  T.errors(function() rp.monitor.windows(a, b, { epsilon = 0 }) end,
    "'epsilon' must be in (0, 0.1], got 0")
  T.errors(function() rp.monitor.windows(a, b, { epsilon = "x" }) end, "field 'epsilon'")
  T.errors(function() rp.monitor.windows(a, b, { thresholds = 0.2 }) end,
    "field 'thresholds' must be a table {measure = number or false}, got number")
  T.errors(function() rp.monitor.windows(a, b, { thresholds = { psi = 0.2 } }) end,
    "unknown measure 'psi'")
  local other = rp.io.read_events(B, READ)
  T.errors(function() rp.monitor.windows(a, other) end,
    "monitor: the two windows must share their user and item maps")
  local freed = rp.io.read_events(B, { users = a.users, items = a.items })
  freed:free()
  T.errors(function() rp.monitor.windows(a, freed) end, "attempt to use a freed recpipe.Events")
end)

-- a: user 0 [i0 i1 i2] (3 2 1), user 1 [i3 i4] (5 4);
-- b: user 0 [i1 i0 i5] (3.5 2.5 0.5), user 1 an empty list, user 2 [i2] (9)
local LA = { ["0"] = { "i0", "i1", "i2" }, ["1"] = { "i3", "i4" } }
local SA = { ["0"] = { 3, 2, 1 }, ["1"] = { 5, 4 } }
local LB = { ["0"] = { "i1", "i0", "i5" }, ["1"] = {}, ["2"] = { "i2" } }
local SB = { ["0"] = { 3.5, 2.5, 0.5 }, ["1"] = {}, ["2"] = { 9 } }

T.case("lists: the hand-worked answers", function()
  local r = rp.monitor.lists(LA, LB, { scores_a = SA, scores_b = SB, catalogue = 6,
                                       score_bins = 2 })
  T.eq(r.catalogue, 6)
  T.eq(r.users, 2)
  T.near(r.reference.coverage, 5 / 6)
  T.near(r.current.coverage, 4 / 6)
  T.near(r.coverage, (4 / 6) / (5 / 6) - 1)
  T.near(r.reference.gini, 1 / 6)
  T.near(r.current.gini, 1 / 3)
  T.near(r.gini, 1 / 6)
  T.near(r.jaccard, 0.25)
  T.near(r.rbo, 0.315)
  T.near(r.score_psi, 0.04054651081081643, 1e-12)
  T.near(r.reference.score_mean, 3)
  T.near(r.current.score_mean, 3.875)
  T.eq(r.reference.users, 2)
  T.eq(r.current.users, 3)
  T.eq(#r.values, 5)
  -- with a catalogue map: items looked up on it (the same numbers)
  local cat = rp.io.idmap { "i0", "i1", "i2", "i3", "i4", "i5" }
  local r2 = rp.monitor.lists(LA, LB, { scores_a = SA, scores_b = SB, catalogue = cat,
                                        score_bins = 2 })
  T.near(r2.rbo, r.rbo)
  T.near(r2.gini, r.gini)
  -- without a catalogue: the items the lists name (6 here)
  T.eq(rp.monitor.lists(LA, LB).catalogue, 6)
  T.eq(rp.monitor.lists(LA, LB).score_psi, nil)
  -- the same lists: full overlap, no alert; numeric user keys work
  local same = rp.monitor.lists({ [7] = { "x", "y" } }, { [7] = { "x", "y" } })
  T.eq(same.jaccard, 1)
  T.near(same.rbo, 1)
  T.eq(#same.alerts, 0)
  -- disjoint lists alert on overlap
  local d = rp.monitor.lists({ u = { "x" } }, { u = { "y" } })
  T.eq(d.jaccard, 0)
  local names = {}
  for _, al in ipairs(d.alerts) do names[al.measure] = al.message end
  T.ok(names.jaccard and names.rbo, "overlap alerts")
  T.eq(names.jaccard, "jaccard 0 < 0.2")
end)

T.case("lists: bad arguments", function()
  T.errors(function() rp.monitor.lists(5, LB) end,
    "bad argument #1 to 'lists' (table expected, got number)")
  T.errors(function() rp.monitor.lists({ u = 5 }, LB) end,
    "the list of user 'u' must be an array of item ids, got number")
  T.errors(function() rp.monitor.lists(LA, { u = { {} } }) end,
    "item 1 of a list is a table, not an item id")
  T.errors(function() rp.monitor.lists({ u = { "a", "a" } }, LB) end,
    "monitor: the list of user 'u' of side a repeats item 'a'")
  T.errors(function() rp.monitor.lists(LA, LB, { catalogue = 3 }) end,
    "field 'catalogue' is 3 items, but the lists name 6")
  T.errors(function() rp.monitor.lists(LA, LB, { catalogue = rp.io.idmap { "i0" } }) end,
    "is not in the catalogue")
  T.errors(function() rp.monitor.lists(LA, LB, { catalogue = "big" }) end,
    "field 'catalogue' must be an IdMap or a number of items, got big")
  T.errors(function() rp.monitor.lists(LA, LB, { scores_a = { ["0"] = { 1 } } }) end,
    "must hold a score array as long as each list")
  T.errors(function() rp.monitor.lists(LA, LB, { scores_a = 5 }) end,
    "field 'scores_a' must be a table of score arrays")
  T.errors(function() rp.monitor.lists(LA, LB, { rbo_p = 1 }) end,
    "'rbo_p' must be in (0, 1), got 1")
  T.errors(function() rp.monitor.lists(LA, LB, { score_bins = 1 }) end, "'score_bins'")
  T.errors(function() rp.monitor.lists(LA, LB, { depth = 3 }) end,
    "unknown option 'depth' (known: scores_a, scores_b, catalogue")
end)

T.case("models: two recommenders on a user sample", function()
  local ev = rp.io.read_events(write("m.csv", [[
user_id,item_id
u1,a
u1,b
u2,b
u2,c
u3,a
u3,c
u4,d
u4,a
u5,b
u5,d
]]), {})
  local train = ev:to_matrix()
  local als = rp.als.train(train, { factors = 4, iterations = 5, seed = 1 })
  local pop = rp.baseline.popularity(train)
  local r, la, lb = rp.monitor.models(als, als, { k = 2 })
  T.eq(r.jaccard, 1)
  T.eq(r.users, 5)
  T.eq(r.catalogue, 4)
  T.eq(r.score_psi, 0)
  T.same(la, lb)
  local r2 = rp.monitor.models(als, pop, { k = 3, users = 3, exclude = train, seed = 7 })
  T.eq(r2.users, 3)
  T.ok(r2.jaccard >= 0 and r2.jaccard <= 1)
  local r3 = rp.monitor.models(als, pop, { k = 3, users = 3, exclude = train, seed = 7 })
  T.eq(r3.rbo, r2.rbo, "the same sample for the same seed")
  local r4 = rp.monitor.models(pop, als, { users = { "u1", "u2" }, k = 2 })
  T.eq(r4.users, 2)
  -- a Lua recommender needs users
  local lua_rec = { recommend_all = function(_, q)
    local out = {}
    for _, u in ipairs(q.users) do out[u] = { "a", "b" } end
    return out
  end }
  T.eq(rp.monitor.models(lua_rec, lua_rec, { users = { "u1" } }).jaccard, 1)
  T.errors(function() rp.monitor.models(lua_rec, als) end,
    "field 'users' is required: the first recommender has no user map")
  T.errors(function() rp.monitor.models(5, als) end,
    "bad argument #1 to 'models' (a recommender (an object with recommend_all) expected)")
  T.errors(function() rp.monitor.models(als, {}) end, "bad argument #2 to 'models'")
  T.errors(function() rp.monitor.models(als, als, { users = "u1" }) end,
    "field 'users' must be a list of user ids or a number to sample, got string")
  T.errors(function() rp.monitor.models(als, als, { users = -1 }) end, "field 'users'")
  T.errors(function() rp.monitor.models(als, als, { kk = 1 }) end, "unknown option 'kk'")
  T.errors(function() rp.monitor.models(als, als, { k = 0 }) end, "field 'k'")
end)

-- the serving logs as `recpipe serve` writes them (see monitor.h for the case)
local IMP = write("impressions.csv", [[
request_id,timestamp,user_id,item_id,position,score,model_version,reason
r1,100.000,u0,i0,1,0.9,v1,cf
r1,100.000,u0,i1,2,0.8,v1,cf
r2,200.000,u1,i2,1,0.5,v1,popularity
r2,200.000,u1,i3,2,0.4,v1,popularity
r3,300.000,u0,i2,1,0.7,v2,cf
r3,300.000,u0,i4,2,0.6,v2,cf
r4,5000.000,u2,i0,1,0.3,v2,cf
]])
local FB = write("feedback.csv", [[
user_id,item_id,event,timestamp,request_id
u0,i1,click,150.000,r1
u0,i2,click,350.000,
u1,i3,purchase,250.000,r2
u0,i4,click,400.000,r1
u1,i2,view,100000.000,
u2,i0,click,4000.000,
]])
local imp = rp.io.read_events(IMP, { user = "user_id", item = "item_id", time = "timestamp",
  value = "score", context = { "request_id", "model_version", "reason" } })
local fb = rp.io.read_events(FB, { user = "user_id", item = "item_id", time = "timestamp",
  event = "event", context = { "request_id" }, users = imp.users, items = imp.items })

T.case("serving: click-through, conversion, hit rate by hand", function()
  local r = rp.monitor.serving(imp, fb)
  T.eq(r.ctr, 0.5)
  T.eq(r.conversion, 0.25)
  T.eq(r.hit_rate, 0.75)
  T.eq(r.ctr_drop, nil, "no reference window")
  T.eq(r.current.requests, 4)
  T.eq(r.current.lines, 7)
  T.near(r.current.ctr.lo, 0.15003898915214947, 1e-12)
  T.near(r.current.ctr.hi, 0.8499610108478506, 1e-12)
  T.same({ r.current.ctr.n, r.current.ctr.x }, { 4, 2 })
  T.eq(r.by_version.v1.ctr.rate, 0.5)
  T.eq(r.by_version.v1.conversion.rate, 0.5)
  T.eq(r.by_version.v2.hit_rate.rate, 0.5)
  T.eq(r.by_version.v2.requests, 2)
  T.near(r.by_reason.cf.ctr.rate, 2 / 3)
  T.eq(r.by_reason.popularity.conversion.rate, 1)
  T.eq(r.thresholds.ctr, false)
  T.eq(#r.alerts, 0)
  -- windows as ISO text or seconds; drops against the reference
  local w = rp.monitor.serving(imp, fb, { window = { from = 1000, to = "1970-01-01T02:46:40" },
    reference = { from = 0, to = 1000 } })
  T.eq(w.current.requests, 1)
  T.eq(w.reference.requests, 3)
  T.eq(w.ctr_drop, 1)
  T.eq(w.hit_rate_drop, 1)
  local names = {}
  for _, al in ipairs(w.alerts) do names[#names + 1] = al.measure end
  T.same(names, { "ctr_drop", "conversion_drop", "hit_rate_drop" })
  -- minimum rates as thresholds
  local m = rp.monitor.serving(imp, fb, { thresholds = { ctr = 0.6, hit_rate = 0.5 } })
  T.eq(#m.alerts, 1)
  T.eq(m.alerts[1].message, "ctr 0.5 < 0.6")
  -- horizons, types, a separate hits log
  T.eq(rp.monitor.serving(imp, fb, { horizon = 10 }).ctr, 0)
  T.eq(rp.monitor.serving(imp, fb, { click = { "tap" } }).ctr, nil)
  T.eq(rp.monitor.serving(imp, fb, { click = "purchase" }).ctr, 0.25)
  T.eq(rp.monitor.serving(imp, fb, { conversion = { "purchase", "click" } }).conversion, 0.75)
  local views = fb:where { events = "view" }
  T.eq(rp.monitor.serving(imp, fb, { hits = views }).hit_rate, 0.25)
  T.eq(rp.monitor.serving(imp, fb, { hit_horizon = 3600 }).hit_rate, 0.75)
end)

T.case("serving: bad arguments", function()
  T.errors(function() rp.monitor.serving(imp) end, "bad argument #2 to 'serving'")
  T.errors(function() rp.monitor.serving(imp, fb, { windows = {} }) end,
    "unknown option 'windows' (known: hits, horizon")
  T.errors(function() rp.monitor.serving(imp, fb, { window = 5 }) end,
    "field 'window' must be a table {from = time, to = time}, got number")
  T.errors(function() rp.monitor.serving(imp, fb, { window = { from = 1 } }) end,
    "field 'window' needs 'to'")
  T.errors(function() rp.monitor.serving(imp, fb, { reference = { from = "soon", to = 1 } }) end,
    "field 'reference' must be Unix seconds or ISO 8601 text, got soon")
  T.errors(function() rp.monitor.serving(imp, fb, { click = 5 }) end,
    "field 'click' must be an event type name or a list of them, got number")
  T.errors(function() rp.monitor.serving(imp, fb, { conversion = { 5 } }) end,
    "field 'conversion' must list event type names, got number")
  T.errors(function() rp.monitor.serving(imp, fb, { hits = {} }) end,
    "field 'hits' must be a recpipe.Events, got table")
  T.errors(function() rp.monitor.serving(imp, fb, { level = 1 }) end,
    "'level' must be in (0, 1), got 1")
  T.errors(function() rp.monitor.serving(imp, fb, { horizon = -5 }) end, "'horizon'")
  T.errors(function() rp.monitor.serving(imp, fb, { horizon = "1d" }) end, "field 'horizon'")
  T.errors(function() rp.monitor.serving(imp, fb, { thresholds = { ctr = 2 } }) end,
    "the threshold of 'ctr' must be in [0, 1], got 2")
  local alone = rp.io.read_events(FB, { user = "user_id", item = "item_id", time = "timestamp",
    event = "event" })
  T.errors(function() rp.monitor.serving(imp, alone) end,
    "the feedback events must be on the impressions' user and item maps")
  local untimed = rp.io.read_events(FB, { users = imp.users, items = imp.items })
  T.errors(function() rp.monitor.serving(imp, untimed) end,
    "the feedback events have no time column")
end)

T.case("require adds nothing to _G", function()
  local before = {}
  for k in pairs(_G) do before[k] = true end
  package.loaded["recpipe.monitor"] = nil
  local m = require "recpipe.monitor"
  T.ok(m.windows and m.lists and m.models and m.serving and m.measures and m.thresholds)
  for k in pairs(_G) do T.ok(before[k], "new global " .. tostring(k)) end
end)

T.done()
