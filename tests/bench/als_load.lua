-- als_load.lua MODEL: loads an ALS model file once (used by
-- bench_model_load.sh) and prints one machine-readable line:
--   RESULT load seconds=S file=BYTES peak=P current=C users=U items=I factors=F
-- peak and current are rp.memory() (every core allocation) after the load,
-- counted from what was allocated before it.  Without MODEL it only loads
-- the package (the memory an idle recpipe process holds).
local rp = require "recpipe"
local path = arg[1]
if not path then return end
local f = assert(io.open(path, "rb"))
local bytes = f:seek("end")
f:close()
collectgarbage()
rp.reset_peak()
local base = rp.memory().current
local t = rp.clock()
local model = rp.als.load(path)
local sec = rp.clock() - t
local mem = rp.memory()
print(("RESULT load seconds=%.3f file=%d peak=%d current=%d users=%d items=%d factors=%d"):format(
  sec, bytes, mem.peak - base, mem.current - base, #model.users, #model.items, model.factors))
