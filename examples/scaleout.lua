-- examples/scaleout.lua: one pipeline script for one process or many.
--   recpipe run examples/scaleout.lua [GLOB] [OUT]
--   mpirun -np 4 recpipe run examples/scaleout.lua [GLOB] [OUT]
-- (add --hostfile hosts for several machines; as root, --allow-run-as-root)
-- GLOB names day (or week) files, read as one log, each process reading
-- its share; by default the example shop's log (make demo) is first cut
-- into weekly files under OUT (default out/scaleout; GLOB "" for the default).  Whatever the number
-- of processes, the model file and the figures printed are the same:
-- set SOURCE_DATE_EPOCH to make the model files byte-identical too.
local rp = require "recpipe"
local d = rp.dist
local pattern, out = arg[1], arg[2] or "out/scaleout"
local say = d.rank() == 0 and print or function() end

if not pattern or pattern == "" then
  -- rank 0 writes the weekly files; the others wait for them
  if d.rank() == 0 then
    os.execute(("mkdir -p '%s'"):format(out))
    local shop = rp.io.read_events("examples/shop/events.csv.gz", { user = "user_id",
      item = "item_id", time = "timestamp", event = "event" })
    local t0, t1 = shop:time_range()
    local week, from = 1, t0
    while from <= t1 do
      shop:where { from = from, to = from + 7 * 86400 }:write(("%s/week-%02d.csv"):format(out, week))
      week, from = week + 1, from + 7 * 86400
    end
  end
  d.barrier()
  pattern = out .. "/week-*.csv"
end

local ev, rep = rp.io.read_events(pattern, { time = "time", event = "event",
  weights = { purchase = 5, addtocart = 3, view = 1 } })
say(("%d processes: %d files, %d events, %d users, %d items"):format(d.size(), rep.files, #ev,
  #ev.users, #ev.items))

local train_ev, test_ev = rp.split.by_time(ev, { test_fraction = 0.2 })
local train = train_ev:to_matrix():kcore { min_user = 3, min_item = 5 }
local test = test_ev:to_matrix()
local model = rp.als.train(train, { factors = 32, iterations = 8, regularization = 0.01,
  seed = 42, on_iteration = function(it, info)
    -- every rank solves its block of rows; the bytes each has sent so far
    local bytes = d.gather(d.stats().bytes_sent)
    say(("iteration %d  %.2f s  bytes sent so far per process: %s"):format(it, info.seconds,
      table.concat(bytes, " ")))
  end })
local report = rp.metrics.evaluate(model, train, test, { k = 10,
  metrics = { "precision", "map", "ndcg", "hit_rate" } })
say(("ndcg@10 %.4f  map@10 %.4f  precision@10 %.4f  hit_rate@10 %.4f  (%d users)"):format(
  report.ndcg, report.map, report.precision, report.hit_rate, report.users))
model:save(out .. "/model.rpm") -- rank 0 writes it; a single process loads it
say("model: " .. out .. "/model.rpm")
