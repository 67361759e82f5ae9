-- Generates the example shop: a synthetic e-commerce log with a planted
-- taste structure, and the files that describe its items and users.
--
--   recpipe run examples/generate.lua                 -- examples/shop/ (what `make demo` uses)
--   recpipe run examples/generate.lua out=/tmp/shop events=1e6 users=50000 items=10000
--   recpipe run examples/generate.lua out=/tmp/shift days=112 events=200000 shift.at=2024-03-06
--     (16 weeks with a taste shift in week 10: what pipelines/drift.lua is calibrated on)
--
-- Writes OUT/events.csv.gz (user_id,item_id,event,timestamp,device,country),
-- OUT/items.csv, OUT/users.csv and OUT/truth.csv (the hidden cluster of every
-- user and item, for tests).  The same options always give the same bytes.
local rp = require "recpipe"

local here = arg and arg[0] and arg[0]:match("^(.*)/[^/]*$") or "."
local cfg = rp.config.args({
  out = here .. "/shop",
  users = 5000,
  items = 2000,
  events = 300000,
  clusters = 16,
  days = 180,
  start = "2024-01-01",
  seed = 42,
}, ...)

assert(os.execute(("mkdir -p '%s'"):format(cfg.out)), "cannot create " .. cfg.out)
local report = rp.gen.events{
  path = cfg.out .. "/events.csv.gz",
  items_path = cfg.out .. "/items.csv",
  users_path = cfg.out .. "/users.csv",
  truth_path = cfg.out .. "/truth.csv",
  users = cfg.users, items = cfg.items, events = cfg.events, clusters = cfg.clusters,
  days = cfg.days, start = cfg.start, seed = cfg.seed, shift = cfg.shift,
}
rp.log.info("wrote %s/events.csv.gz: %d events (%d views, %d add-to-carts, %d purchases), "
  .. "%d users, %d items, %d sessions", cfg.out, report.events, report.views, report.addtocarts,
  report.purchases, report.users, report.items, report.sessions)
