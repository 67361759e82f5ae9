-- rp.split from Lua: every split's parts, summaries, iterators, dates and
-- bad arguments.
local rp = require "recpipe"
local T = require "recpipe.test"

local dir = T.tmpdir()
local DAY = 86400

-- 40 users x up to 30 items over 60 days; value = row number (traceable)
local function write_log(path, n, seed)
  local lines = { "user,item,value,time" }
  local r = seed
  local function rnd(m)
    r = (r * 1103515245 + 12345) % 2147483648
    return r % m
  end
  for i = 1, n do
    lines[#lines + 1] = ("u%d,i%d,%d,%d"):format(rnd(40), rnd(30), i, 1700000000 + rnd(60 * DAY))
  end
  T.write(path, table.concat(lines, "\n") .. "\n")
  return rp.io.read_events(path, { value = "value", time = "time" })
end

local ev = write_log(dir .. "/log.csv", 3000, 7)

-- value column of an Events as a set, through a matrix of counts per row
local function rows(e)
  local m = e:to_matrix { aggregate = "sum" }
  local total = 0
  for u = 1, #e.users do
    local _, v = m:row(e.users:id(u))
    for _, x in ipairs(v) do total = total + x end
  end
  return total, m
end

local all = rows(ev)

T.case("random: union is the input, maps shared, deterministic", function()
  local tr, te, s = rp.split.random(ev, { test_fraction = 0.25, seed = 3 })
  T.eq(#tr + #te, #ev)
  T.eq(s.train, #tr)
  T.eq(s.test, #te)
  T.eq(s.input, #ev)
  T.eq(s.dropped, 0)
  T.ok(tr.users == ev.users and te.items == ev.items, "maps shared")
  local a = rows(tr)
  local b = rows(te)
  T.eq(a + b, all)
  local _, te2 = rp.split.random(ev, { test_fraction = 0.25, seed = 3 })
  T.eq(rows(te2), b)
  local _, te3 = rp.split.random(ev, { test_fraction = 0.25, seed = 4 })
  T.ok(rows(te3) ~= b, "another seed, another split")
  local _, te4 = rp.split.random(ev, { test_fraction = 0.25, seed = 3, by = "event" })
  T.ok(#te4 > 500 and #te4 < 1000)
end)

T.case("kfold: k folds whose tests partition the input", function()
  local n, total, folds = 0, 0, 0
  for tr, te, s in rp.split.kfold(ev, { k = 4, seed = 9 }) do
    folds = folds + 1
    T.eq(s.fold, folds)
    T.eq(#tr + #te, #ev)
    n = n + #te
    total = total + rows(te)
  end
  T.eq(folds, 4)
  T.eq(n, #ev)
  T.eq(total, all)
  T.errors(function() rp.split.kfold(ev, { k = 1 }) end, "field 'k' must be an integer >= 2")
  T.errors(function() rp.split.kfold(ev, { folds = 3 }) end, "unknown option 'folds'")
end)

T.case("by_time: train strictly before the cutoff, test from it", function()
  local tr, te, s = rp.split.by_time(ev, { test_fraction = 0.2, keep_unknown = true })
  T.eq(#tr + #te, #ev)
  local _, tmax = rp.split.span(tr)
  local tmin = rp.split.span(te)
  T.ok(tmax < s.cutoff and tmin == s.cutoff)
  T.ok(#te >= 600 and #te < 620, "about a fifth in test: " .. #te)
  -- a date cutoff, with unknown users/items dropped and counted
  local t0 = rp.split.span(ev)
  local tr2, te2, s2 = rp.split.by_time(ev, { cutoff = t0 + 2 * DAY })
  T.eq(s2.cutoff, t0 + 2 * DAY)
  T.eq(#tr2 + #te2 + s2.dropped, #ev)
  T.ok(s2.dropped > 0 and s2.unknown_users > 0, "a short train period leaves unknown users")
  T.eq(s2.dropped_user_events > 0, true)
  T.eq(rp.split.time("2023-11-14 22:13:20"), 1700000000)
  local _, _, s3 = rp.split.by_time(ev, { cutoff = "2023-11-20" })
  T.eq(s3.cutoff, rp.split.time("2023-11-20"))
  T.errors(function() rp.split.by_time(ev, { cutoff = "yesterday" }) end,
    "bad argument #2 to 'by_time' (field 'cutoff' must be Unix seconds or an ISO 8601 date")
  T.errors(function() rp.split.by_time(ev, { cutoff = "2023-11-31" }) end,
    "field 'cutoff' must be Unix seconds or an ISO 8601 date")
  T.errors(function() rp.split.time({}) end, "bad argument #1 to 'time' (must be Unix seconds")
  -- ISO 8601 with an offset, and a float (floored), name the same instant
  T.eq(rp.split.time("2023-11-15T00:13:20+02:00"), 1700000000)
  T.eq(rp.split.time(1700000000.75), 1700000000)
  T.errors(function() rp.split.by_time(ev, { cutoff = 5, test_fraction = 0.1 }) end, "exclusive")
  T.errors(function() rp.split.by_time(ev, { test_fraction = 0 }) end,
    "bad argument #2 to 'by_time' (field 'test_fraction' must be a number in (0, 1), got 0)")
end)

T.case("leave_last and per_user_time", function()
  local tr, te, s = rp.split.leave_last(ev, { k = 2 })
  T.eq(#tr + #te, #ev)
  T.eq(#te, 2 * s.test_users)
  -- each user's test events are the latest: none of its train events is later
  local trm, tem = tr:to_matrix { aggregate = "max" }, te:to_matrix()
  T.ok(trm and tem)
  local tr2, te2 = rp.split.per_user_time(ev, { test_fraction = 0.1 })
  T.eq(#tr2 + #te2, #ev)
  T.ok(#te2 > 250 and #te2 < 350)
  T.errors(function() rp.split.leave_last(ev, { k = 0 }) end, "field 'k' must be a positive")
  T.errors(function() rp.split.leave_last(ev, { n = 1 }) end, "unknown option 'n'")
end)

T.case("rolling: windows step through time", function()
  local t0, t1 = rp.split.span(ev)
  local w, last_end = 0, nil
  for tr, te, info in rp.split.rolling(ev, { train_days = 21, test_days = 7, step_days = 7 }) do
    w = w + 1
    T.eq(info.window, w)
    T.eq(info.train_start, t0 + (w - 1) * 7 * DAY)
    T.eq(info.train_end, info.train_start + 21 * DAY)
    T.ok(info.test_end <= info.train_end + 7 * DAY)
    local a, b = rp.split.span(tr)
    T.ok(a >= info.train_start and b < info.train_end)
    if #te > 0 then
      local c, d = rp.split.span(te)
      T.ok(c >= info.train_end and d < info.test_end)
    end
    last_end = info.train_end
  end
  T.ok(w >= 5, "several windows")
  T.ok(last_end <= t1)
  -- expanding windows always start at the beginning
  for _, _, info in rp.split.rolling(ev, { train_days = 30, test_days = 14, expanding = true }) do
    T.eq(info.train_start, t0)
  end
  T.errors(function() rp.split.rolling(ev, { train_days = 0, test_days = 1 }) end,
    "bad argument #2 to 'rolling' (field 'train_days' must be a finite number > 0")
end)

T.case("time_range and window", function()
  local t0 = rp.split.span(ev)
  local r, s = rp.split.time_range(ev, { from = t0 + DAY, to = t0 + 3 * DAY })
  T.eq(#r + s.outside, #ev)
  local tr, te, s2 = rp.split.window(ev, { train_start = t0, train_end = t0 + 10 * DAY,
    test_end = t0 + 12 * DAY, keep_unknown = true })
  T.eq(#tr + #te + s2.outside, #ev)
  T.errors(function() rp.split.window(ev, {}) end, "field 'train_end' is required")
end)

T.case("no time column", function()
  T.write(dir .. "/nt.csv", "user,item\na,x\na,y\nb,x\n")
  local nt = rp.io.read_events(dir .. "/nt.csv")
  T.errors(function() rp.split.by_time(nt, { test_fraction = 0.5 }) end, "needs a time column")
  local tr, te = rp.split.leave_last(nt, { k = 1 })
  T.eq(#te, 1)
  T.eq(#tr, 2)
end)

-- the defaults rp.split.options(fname) exports (those that have one)
local function defaults(fname)
  local d = {}
  for _, o in ipairs(rp.split.options(fname)) do d[o.name] = o.default end
  return d
end

-- the (user, item, value) rows of an Events, in order, as one string
local function dump(e)
  local m = e:to_matrix { aggregate = "sum" }
  local out = {}
  for u = 1, #e.users do
    local items, v = m:row(e.users:id(u))
    for j, it in ipairs(items) do out[#out + 1] = e.users:id(u) .. ":" .. it .. "=" .. v[j] end
  end
  return #e .. "|" .. table.concat(out, ",")
end

T.case("options: the core's descriptors, exported and used by every function", function()
  local all_opts = rp.split.options()
  for _, f in ipairs { "random", "kfold", "by_time", "window", "time_range", "leave_last",
                       "per_user_time", "rolling", "cold_users", "cold_items" } do
    T.ok(all_opts[f], "options of " .. f)
  end
  T.eq(all_opts._fold, nil)
  local r = rp.split.options("random")
  T.eq(r.test_fraction.default, 0.2)
  T.eq(r.test_fraction.min, 0)
  T.eq(r.test_fraction.max, 1)
  T.eq(r.test_fraction.min_open, true)
  T.same(r.by.values, { "pair", "event" })
  T.eq(r.seed.default, 42)
  T.eq(rp.split.options("per_user_time").test_fraction.default, 0.1)
  T.eq(rp.split.options("kfold").k.default, 5)
  T.eq(rp.split.options("kfold").k.min, 2)
  T.eq(rp.split.options("leave_last").min_history.default, 2)
  T.eq(rp.split.options("cold_users").fraction.default, 0.1)
  T.eq(rp.split.options("cold_users").fraction.max, 1)
  T.eq(rp.split.options("rolling").train_days.default, nil) -- required
  T.eq(rp.split.options("rolling").expanding.default, false)
  T.errors(function() rp.split.options("frobnicate") end,
    "no function 'frobnicate' (known: random, kfold, by_time")
  -- the checker the Lua parts use: defaults filled in from the same table
  local o = rp.split._checkopts("rolling", { train_days = 7, test_days = 2 })
  T.eq(o.train_days, 7)
  T.eq(o.step_days, nil)
  T.eq(o.expanding, false)
  T.same(rp.split._checkopts("kfold", {}), { k = 5, seed = 42, by = "pair" })
end)

T.case("options: an unknown key is refused naming it and listing the known ones", function()
  T.errors(function() rp.split.random(ev, { fraction = 0.2 }) end,
    "bad argument #2 to 'random' (unknown option 'fraction' (known: test_fraction, seed, by))")
  T.errors(function() rp.split.by_time(ev, { cutof = 5 }) end,
    "bad argument #2 to 'by_time' (unknown option 'cutof' (known: test_fraction, cutoff, "
    .. "keep_unknown))")
  T.errors(function() rp.split.per_user_time(ev, { k = 1 }) end,
    "unknown option 'k' (known: test_fraction, min_history)")
  -- the Lua iterators check through the core's descriptors too
  T.errors(function() rp.split.kfold(ev, { folds = 3 }) end,
    "bad argument #2 to 'kfold' (unknown option 'folds' (known: k, seed, by))")
  T.errors(function() rp.split.rolling(ev, { train_day = 7, test_days = 1 }) end,
    "bad argument #2 to 'rolling' (unknown option 'train_day' (known: train_days, test_days, "
    .. "step_days, start, stop, expanding, keep_unknown))")
  T.errors(function() rp.split.rolling(ev, { test_days = 1 }) end,
    "bad argument #2 to 'rolling' (field 'train_days' is required)")
  T.errors(function() rp.split.kfold(ev, { by = "user" }) end,
    "bad argument #2 to 'kfold' (field 'by' must be one of 'pair', 'event', got 'user')")
  T.errors(function() rp.split.cold_items(ev, { fraction = 0.1, folds = 2 }) end,
    "unknown option 'folds' (known: fraction, seed)")
end)

T.case("options: the defaults C applies are the ones Lua sees", function()
  -- each split with no options equals the split with options() defaults spelt out
  for _, f in ipairs { "random", "by_time", "leave_last", "per_user_time" } do
    local a1, b1, s1 = rp.split[f](ev)
    local a2, b2, s2 = rp.split[f](ev, defaults(f))
    T.eq(dump(a1), dump(a2), f .. " train")
    T.eq(dump(b1), dump(b2), f .. " test")
    T.eq(s1.test, s2.test, f .. " summary")
  end
  local n1, n2, k = 0, 0, defaults("kfold").k
  local firsts = {}
  for _, te in rp.split.kfold(ev) do n1 = n1 + 1; firsts[n1] = dump(te) end
  for _, te in rp.split.kfold(ev, defaults("kfold")) do
    n2 = n2 + 1
    T.eq(dump(te), firsts[n2], "kfold fold " .. n2)
  end
  T.eq(n1, k)
  T.eq(n2, k)
  -- cold_users: the list default (reveal {0, 1, 3, 5}) is the core's too
  local d = defaults("cold_users")
  local _, c1, h1 = rp.split.cold_users(ev)
  local _, c2, h2 = rp.split.cold_users(ev, d)
  T.same(h1.users, h2.users)
  T.eq(#c1, 4)
  for i, c in ipairs(c1) do
    T.eq(c.reveal, ({ 0, 1, 3, 5 })[i])
    T.eq(dump(c.known), dump(c2[i].known))
  end
  T.eq(h1.held_out, math.floor(d.fraction * #ev.users + 0.5))
  local _, t1 = rp.split.cold_items(ev)
  local _, t2 = rp.split.cold_items(ev, defaults("cold_items"))
  T.eq(dump(t1), dump(t2))
end)

T.done()
