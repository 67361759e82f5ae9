-- io_read.lua FILE RUNS [THREADS]: times rp.io.read_events on a
-- user_id,item_id,value,timestamp log (used by bench_read.sh).  Prints the
-- median and one machine-readable line:
--   RESULT recpipe seconds=S mb=M events=N users=U items=I peak=P columns=C maps=B
local rp = require "recpipe"
local path, runs, threads = arg[1], tonumber(arg[2] or 5), tonumber(arg[3] or 0)
local opts = { user = "user_id", item = "item_id", value = "value", time = "timestamp",
               threads = threads }
local times, ev, rep, peak = {}, nil, nil, 0
for r = 1, runs do
  if ev then ev:free(); ev = nil end
  collectgarbage()
  rp.reset_peak()
  local base = rp.memory().current
  local t = rp.clock()
  ev, rep = rp.io.read_events(path, opts)
  times[r] = rp.clock() - t
  peak = math.max(peak, rp.memory().peak - base)
end
table.sort(times)
local med = times[(#times + 1) // 2]
local cols, maps = ev:bytes()
print(("recpipe read_events %s: median %.3f s of %d (min %.3f, max %.3f), %.0f MB/s, "
  .. "%d events, %d users, %d items"):format(path, med, runs, times[1], times[#times],
  rep.bytes / 1e6 / med, #ev, #ev.users, #ev.items))
print(("RESULT recpipe seconds=%.4f mb=%.1f events=%d users=%d items=%d peak=%d columns=%d maps=%d")
  :format(med, rep.bytes / 1e6, #ev, #ev.users, #ev.items, peak, cols, maps))
