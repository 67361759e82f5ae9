-- ALS serving through Lua (what a script or the server pays): model:recommend
-- for one user (k = 10, seen items excluded) and model:recommend_all for a
-- batch of users, on the 10M-event log.
--   recpipe run tests/bench/als_serve.lua LOG.csv [queries] [batch]
local rp = require "recpipe"
local path = assert(arg[1], "usage: bench_als.lua LOG.csv [queries] [batch]")
local nq, nb = tonumber(arg[2] or 5000), tonumber(arg[3] or 20000)

local ev = rp.io.read_events(path, { user = "user_id", item = "item_id", value = "value",
  time = "timestamp" })
local train = ev:to_matrix()
ev:free()
local model = rp.als.train(train, { factors = 64, iterations = 3, seed = 1 })

local users = train.users
math.randomseed(7)
local ids = {}
for a = 1, math.max(nq, nb) do ids[a] = users:id(math.random(1, train.nrows)) end

model:recommend(ids[1], { k = 10, exclude = train }) -- builds the screening cache
local lat = {}
for a = 1, nq do
  local t = rp.clock()
  model:recommend(ids[a], { k = 10, exclude = train })
  lat[a] = rp.clock() - t
end
table.sort(lat)
print(("lua_recommend_median_us %.1f"):format(lat[nq // 2 + 1] * 1e6))
print(("lua_recommend_p99_us %.1f"):format(lat[math.floor(nq * 0.99)] * 1e6))

local batch = {}
for a = 1, nb do batch[a] = ids[a] end
local best = math.huge
for _ = 1, 3 do
  local t = rp.clock()
  local items = model:recommend_all { users = batch, k = 10, exclude = train }
  t = rp.clock() - t
  assert(next(items))
  best = math.min(best, t)
end
print(("lua_recommend_all_us_per_user %.2f"):format(best / nb * 1e6))
