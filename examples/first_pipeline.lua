-- examples/first_pipeline.lua: from a raw log to the matrix a recommender
-- trains on.  Run from the repository root after `make demo`:
--   recpipe run examples/first_pipeline.lua
local rp = require "recpipe"

-- 1. Read the log.  Columns are named; event types become weights (types not
--    listed would be dropped and counted); context columns are kept.
local ev, report = rp.io.read_events("examples/shop/events.csv.gz", {
  user = "user_id", item = "item_id", time = "timestamp", event = "event",
  weights = { purchase = 5, addtocart = 3, view = 1 },
  context = { "device", "country" },
})
rp.log.info("read %d events, %d users, %d items in %.2f s", #ev, #ev.users, #ev.items,
  report.seconds)

-- 2. Any Lua predicate over a row (user, item, value, time, event, device,
--    country): here, drop the shop's own test accounts.
local test_accounts = { u1 = true, u2 = true, u3 = true }
ev = ev:filter(function(row) return not test_accounts[row.user] end)

-- 3. Fast filters in C: a time window, event types, context values.
ev = ev:where { from = "2024-02-01", device = { "mobile", "desktop" } }
local st = ev:stats()
print(("kept %d events from %s, %d users, %d items"):format(st.events,
  os.date("!%Y-%m-%d", st.tmin), st.users, st.items))

-- 4. One cell per (user, item): weights summed, each event's weight halved
--    every 60 days of age (counted back from the last event), so recent
--    interest counts more.
local m = ev:to_matrix { aggregate = "sum", half_life_days = 60 }
print(m)

-- 5. Keep users with at least 3 items and items with at least 5 users,
--    repeatedly until both hold.  Removed users and items become empty rows
--    and columns: the shape (and the id maps) stay, so other matrices built
--    from this log line up with it.
local core, removed = m:kcore { min_user = 3, min_item = 5 }
print(("k-core removed %d users, %d items, %d interactions in %d round(s)"):format(
  removed.users_removed, removed.items_removed, removed.interactions_removed, removed.rounds))
print(core)
