-- The serving benchmark's model (tests/bench/bench_serve.sh): ALS f = 64 on
-- the 10M-event synthetic log, saved with its training matrix (the seen
-- items) and a second model of other seed for the hot swaps.
--   recpipe run tests/bench/serve_prep.lua LOG OUTDIR
local rp = require "recpipe"
local log, out = ...
local t0 = rp.clock()
local ev = rp.io.read_events(log, { user = "user_id", item = "item_id", value = "value",
  time = "timestamp" })
local train = ev:to_matrix { aggregate = "sum" }
ev:free()
train:save(out .. "/train.rpm")
for i, seed in ipairs { 42, 43 } do
  local m = rp.als.train(train, { factors = 64, iterations = 5, regularization = 0.01, seed = seed })
  m:save(out .. (i == 1 and "/model.rpa" or "/model2.rpa"))
  m:free()
end
print(("prepared %s: %d users x %d items, %d non-zeros in %.1f s"):format(out, train.nrows,
  train.ncols, train.nnz, rp.clock() - t0))
