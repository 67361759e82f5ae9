-- Sparse matrix benchmark through Lua (RESULTS.md section "sparse"):
-- read_events of a 5-million-event log (timed once, the io stream's
-- figure), then ev:to_matrix() + m:kcore{min_user = 3, min_item = 5}, the
-- issue's "under 1 s" target, as the median of 5 runs; plus save/load.
--   recpipe run tests/bench/bench_sparse.lua [LOG.csv]
local rp = require "recpipe"

local path = arg[1]
if not path then
  local p = io.popen("sh tests/bench/bench_sparse.sh --data")
  path = p:read("l")
  p:close()
end
assert(path, "no benchmark log")

local function median(f, runs)
  local ts, out = {}, nil
  for k = 1, runs do
    collectgarbage()
    local t0 = rp.clock()
    out = f()
    ts[k] = rp.clock() - t0
  end
  table.sort(ts)
  return ts[(runs + 1) // 2], ts[1], ts[runs], out
end

local function show(what, med, lo, hi)
  print(("%-36s median %7.1f ms  (min %7.1f, max %7.1f)"):format(what, med * 1e3, lo * 1e3,
    hi * 1e3))
end

local t0 = rp.clock()
local ev = rp.io.read_events(path, { user = "user_id", item = "item_id", value = "value",
  time = "timestamp" })
print(("read_events: %d events, %d users, %d items in %.2f s (once)"):format(#ev, #ev.users,
  #ev.items, rp.clock() - t0))

rp.reset_peak()
local base = rp.memory().current
local med, lo, hi = median(function()
  local m = ev:to_matrix()
  local k = m:kcore { min_user = 3, min_item = 5 }
  m:free()
  return k
end, 5)
show("to_matrix + kcore{3, 5}", med, lo, hi)
print(("  peak C memory above the Events: %.1f MB"):format((rp.memory().peak - base) / 1e6))
local m = ev:to_matrix()
show("to_matrix (sum)", median(function() return ev:to_matrix() end, 5))
show("to_matrix (last, by time)", median(function() return ev:to_matrix { aggregate = "last" } end, 5))
local _, _, _, k = median(function() return m:kcore { min_user = 3, min_item = 5 } end, 1)
show("kcore{3, 5}", median(function() return m:kcore { min_user = 3, min_item = 5 } end, 5))
print(("  %s -> %s"):format(tostring(m), tostring(k)))
show("transpose", median(function() return m:transpose() end, 5))
show("bm25", median(function() return m:bm25() end, 5))
local out = "tests/bench/out/bench_sparse_lua.rpm"
show("save", median(function() return m:save(out) end, 5))
show("load", median(function() return rp.sparse.load(out) end, 5))
show("save .gz", median(function() return m:save(out .. ".gz") end, 1))
show("load .gz", median(function() return rp.sparse.load(out .. ".gz") end, 3))
local f = io.open(out, "rb")
local size = f:seek("end")
f:close()
f = io.open(out .. ".gz", "rb")
local gsize = f:seek("end")
f:close()
print(("  file: %.1f MB plain, %.1f MB gzip; matrix %.1f MB in memory"):format(size / 1e6,
  gsize / 1e6, (8 * (m.nrows + 1) + 8 * m.nnz) / 1e6))
os.remove(out)
os.remove(out .. ".gz")
