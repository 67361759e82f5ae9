-- examples/serve.lua: the example shop's recommender as a service.  After
-- `make demo` (which trains and saves out/shop_als.rpa), from the repository
-- root:
--   recpipe serve examples/serve.lua            (or examples/serve.yaml)
--   curl 'localhost:8080/v1/recommend?user=u42&k=5'
--
-- A serve script runs once in every worker's Lua state: it builds the
-- recommender and returns it with the service's settings.  Files loaded
-- with rp.als.load and rp.sparse.load are loaded once for all workers.
local rp = require "recpipe"
local cfg = ...                 -- the YAML config and key=value settings
local p = cfg.params or {}

local model = rp.als.load(p.model or "out/shop_als.rpa")

-- The users' seen items, read onto the model's id maps: a loaded model's
-- maps are shared read-only by the workers, so ids it does not know are
-- dropped rather than added.
local ev = rp.io.read_events(p.events or "examples/shop/events.csv.gz", {
  user = "user_id", item = "item_id", time = "timestamp", event = "event",
  weights = { purchase = 5, addtocart = 3, view = 1 },
  users = model.users, items = model.items, unknown = "drop" })
local seen = ev:to_matrix { aggregate = "sum" }
local users = rp.hybrid.attributes(p.users or "examples/shop/users.csv",
  { id = "user_id", map = model.users, fields = { age_band = true } })
local pop = rp.baseline.popularity(seen)

-- The first matching rule answers: ALS for users it was trained on, their
-- history folded in for visitors who send one, popularity in their age
-- band for visitors who say it, and popularity for anyone else.
local chain = rp.hybrid.chain {
  { when = function(ctx) return ctx.known end, use = model },
  { when = function(ctx) return ctx.n > 0 end, use = rp.hybrid.fold_in(model) },
  { when = function(ctx) return ctx.attributes.age_band ~= nil end,
    use = rp.hybrid.segment_popularity(seen, users, { field = "age_band" }) },
  { use = pop },
  train = seen, attributes = users,
}

local bands = { "16-24", "25-34", "35-44", "45-54", "55-64", "65+" }
local warm = { {} }             -- the anonymous popular list ...
for _, b in ipairs(bands) do    -- ... and each age band's, cached at load
  warm[#warm + 1] = { attributes = { age_band = b } }
end

return chain, {
  seen = seen,                  -- exclude_seen leaves these out
  similar = model,              -- /v1/similar?item=
  warm = warm,
  -- a business rule on every answer: never show item i0 (a recalled product)
  filter = function(items, scores)
    local keep_i, keep_s = {}, {}
    for j, it in ipairs(items) do
      if it ~= "i0" then keep_i[#keep_i + 1], keep_s[#keep_s + 1] = it, scores[j] end
    end
    return keep_i, keep_s
  end,
}
