-- A cold-start chain written in Lua, for pipelines/coldstart.lua:
--   recpipe run examples/coldstart.yaml chain_script=examples/coldstart_chain.lua
-- The pipeline calls the returned function once per training set and reveal
-- size with `parts` (every strategy by name: popularity, segment, trending,
-- content, item_knn, fold_in, projection, als), the reveal case, the config
-- and the attribute features ({users, items}), and evaluates the chain it
-- returns.  Rules are plain Lua: any
-- condition on ctx (user, n, known, attributes, context) will do.
local rp = require "recpipe"

return function(parts, case, cfg, attributes)
  return rp.hybrid.chain {
    -- a user with a few events: fold them into the ALS model, blended with
    -- what similar items and similar users suggest
    { when = function(ctx) return ctx.n >= 2 end,
      use = rp.hybrid.blend { { parts.fold_in, 2 }, { parts.item_knn, 2 },
                              { parts.segment, 1 } }, label = "fold_in+" },
    { when = function(ctx) return ctx.n == 1 end,
      use = rp.hybrid.blend { { parts.item_knn, 1 }, { parts.segment, 1 } }, label = "one" },
    -- nothing known: attributes (projected onto the factors) if there are any
    { when = function(ctx) return ctx.attributes.age_band ~= nil end,
      use = rp.hybrid.blend { { parts.projection, 1 }, { parts.segment, 1 } }, label = "new" },
    { use = parts.popularity },
    attributes = attributes.users,
  }
end
