-- The benchmark's chain: ALS for users it knows (a Lua rule), popularity
-- for anyone else.  recpipe serve tests/bench/serve/chain.lua params.model=... params.seen=...
local rp = require "recpipe"
local p = (...).params
local model = rp.als.load(p.model)
local seen = rp.sparse.load(p.seen)
local pop = rp.baseline.popularity(seen)
return rp.hybrid.chain {
  { when = function(ctx) return ctx.known end, use = model },
  { use = pop },
  train = seen,
}, { seen = seen }
