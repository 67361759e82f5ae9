-- Training under rp.dist for bench_dist.sh: reads the log (every rank the
-- whole file), builds the matrix, trains ALS and prints, on rank 0, the
-- seconds of each iteration (the slowest rank's) and the bytes each rank
-- sent in it.
--   recpipe run dist_train.lua LOG FACTORS ITERATIONS THREADS
local rp = require "recpipe"
local d = rp.dist
local path, f, iters, threads = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
local ev = rp.io.read_events(path, { value = "value", time = "timestamp" })
local m = ev:to_matrix()
ev:free()
d.barrier()
local last = d.stats().bytes_sent
local secs, sent = {}, {}
rp.als.train(m, { factors = f, iterations = iters, threads = threads, seed = 1,
  on_iteration = function(it, info)
    local now = d.stats().bytes_sent
    secs[it], sent[it] = info.seconds, now - last
    last = now
  end })
local all = d.gather({ secs = secs, sent = sent })
if d.rank() == 0 then
  print(("matrix %d x %d, %d values; %d process(es) x %d thread(s)"):format(m.nrows, m.ncols,
    m.nnz, d.size(), threads))
  for it = 1, iters do
    local worst, bytes = 0, {}
    for r = 1, #all do
      worst = math.max(worst, all[r].secs[it])
      bytes[#bytes + 1] = ("%d"):format(all[r].sent[it])
    end
    print(("iteration %d seconds %.3f bytes_sent %s"):format(it, worst, table.concat(bytes, ",")))
  end
end
