-- shuffle_items.lua: a copy of a CSV log (item id in the second column, no
-- quoted fields) with every item id replaced by another, a fixed
-- permutation per seed: the same users, times and popularity curve, and
-- nothing a model learns from it is true.  The deliberately broken training
-- log of the operations simulation and of the gate's tests.
--   recpipe run examples/operations/shuffle_items.lua IN.csv OUT.csv [SEED]
--   local shuffle = dofile("examples/operations/shuffle_items.lua"); shuffle(src, dst, seed)
local function shuffle(src, dst, seed)
  local items, seen = {}, {}
  for line in io.lines(src) do
    local it = line:match("^[^,]*,([^,]*),")
    if it and it ~= "item_id" and not seen[it] then seen[it] = true; items[#items + 1] = it end
  end
  local perm, s = { table.unpack(items) }, seed or 1
  for i = #perm, 2, -1 do -- Fisher-Yates with a 64-bit LCG (the same on every platform)
    s = (s * 6364136223846793005 + 1442695040888963407) & 0x7fffffffffffffff
    local j = s % i + 1
    perm[i], perm[j] = perm[j], perm[i]
  end
  local map = {}
  for i, it in ipairs(items) do map[it] = perm[i] end
  local f = assert(io.open(dst, "w"))
  for line in io.lines(src) do
    local u, it, rest = line:match("^([^,]*),([^,]*),(.*)$")
    f:write(u, ",", map[it] or it, ",", rest, "\n")
  end
  f:close()
  return #items
end
if select("#", ...) >= 2 then
  local src, dst, seed = ...
  print(("%d items shuffled"):format(shuffle(src, dst, tonumber(seed))))
end
return shuffle
