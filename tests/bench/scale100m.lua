-- One machine, 100 million events (issue 12's last bullet): read, split by
-- time, k-core, train ALS 5 iterations at f = 64 and evaluate, with the time
-- and memory of each stage: C core bytes (current and peak since the stage
-- began, rp.memory) and the process's peak RSS (VmHWM), against the
-- formulas (events: 20 bytes a row + id maps; matrix: 8 nnz + 8 rows;
-- training: rp_als_train_memory in modules/als/als.h).
--   recpipe run tests/bench/scale100m.lua DIR      (DIR/part-*.csv, bench_100m.sh makes them)
local rp = require "recpipe"
local dir = assert(arg[1], "usage: scale100m.lua DIR")
local MB = 1048576
local function hwm()
  for line in io.lines("/proc/self/status") do
    local v = line:match("^VmHWM:%s+(%d+) kB")
    if v then return tonumber(v) * 1024 end
  end
end
local t0
local function begin() rp.reset_peak(); t0 = rp.clock() end
-- now_f: the formula for the C bytes held after the stage; peak_f: for the
-- stage's peak
local function stage(name, now_f, peak_f)
  local m = rp.memory()
  local function fm(v) return v and ("(formula %.1f)"):format(v / MB) or "" end
  print(("%-9s %6.1f s  C MiB now %8.1f %-18s peak %8.1f %-18s peak RSS %8.1f MiB"):format(
    name, rp.clock() - t0, m.current / MB, fm(now_f), m.peak / MB, fm(peak_f), hwm() / MB))
end
local function csr(m) return 8 * m.nnz + 8 * (m.nrows + 1) end

begin()
local ev, rep = rp.io.read_events(dir .. "/part-*.csv", { value = "value", time = "timestamp" })
local evb, mapb = ev:bytes()
stage("read", 20 * #ev + mapb)
print(("           %d files, %d events, %d users, %d items; columns %.1f MiB, maps %.1f MiB"):format(
  rep.files, #ev, #ev.users, #ev.items, evb / MB, mapb / MB))

begin()
local train_ev, test_ev = rp.split.by_time(ev, { test_fraction = 0.2 })
ev:free()
stage("split", 20 * (#train_ev + #test_ev) + mapb)

begin()
local raw = train_ev:to_matrix()
train_ev:free()
local train = raw:kcore { min_user = 3, min_item = 5 }
raw:free()
local test = test_ev:to_matrix()
test_ev:free()
stage("matrix", mapb + csr(train) + csr(test))
print(("           train %d x %d, %d values; test %d values"):format(train.nrows, train.ncols,
  train.nnz, test.nnz))

begin()
local before = rp.memory().current
local f, T = 64, rp.cores()
local model = rp.als.train(train, { factors = f, iterations = 5, seed = 1,
  on_iteration = function(it, info) print(("           iteration %d  %.2f s"):format(it,
    info.seconds)) end })
-- the formula's big terms (the per-thread scratch and f^2 terms are small)
local formula = 8 * (train.ncols + 1) + 8 * train.nnz + 8 * T * (train.ncols + 1)
  + 4 * f * (train.nrows + train.ncols)
stage("train", before + 4 * f * (train.nrows + train.ncols), before + formula)

begin()
local report = rp.metrics.evaluate(model, train, test, { k = 10,
  metrics = { "precision", "map", "ndcg", "hit_rate" } })
stage("evaluate", nil, nil)
print(("           %d users: ndcg@10 %.4f  map@10 %.4f  precision@10 %.4f  hit_rate@10 %.4f"):format(
  report.users, report.ndcg, report.map, report.precision, report.hit_rate))
