-- explore: what is in an interaction log, and what matrix it makes.
--
--   recpipe run pipelines/explore.lua [LOG] [key=value ...]
--   recpipe run examples/explore.yaml [key=value ...]
--
-- Prints a summary of the log (events, users, items, event types, context
-- values, time range, interactions per user and per item as quantiles),
-- then turns it into a user x item matrix (event weights, aggregation,
-- optional time decay), applies the k-core filter and shows what it removed
-- and the matrix that is left.  Every setting below can be changed from the
-- command line (kcore.min_user=5, weights.purchase=10, half_life_days=30,
-- where.device=[mobile]) or from a YAML config with `pipeline: explore`.
local rp = require "recpipe"

local defaults = {
  input = "examples/shop/events.csv.gz",
  -- the columns of the log; set one to null (`columns.event=`) when absent
  columns = { user = "user_id", item = "item_id", time = "timestamp", event = "event" },
  context = { "device", "country" }, -- context columns to summarise ([] for none)
  -- weights = {purchase = 5, addtocart = 3, view = 1}: the default below;
  -- {} keeps every event at value 1 (or the value column)
  aggregate = "sum", -- repeated (user, item) pairs: sum, max, count or last
  half_life_days = nil, -- exponential decay of each event's weight by age
  where = nil, -- a filter for ev:where{} before the matrix (from, to, events, device, ...)
  kcore = { min_user = 3, min_item = 5 },
  positional = { "input" },
}
local default_weights = { purchase = 5, addtocart = 3, view = 1 }

-- every key this pipeline reads: any other is refused, naming the file
local given = rp.config.args({ positional = { "input" } }, ...)
rp.config.check(given, { input = true,
  columns = rp.config.keys { "user", "item", "time", "event", "value" }, context = true,
  weights = true, aggregate = true, half_life_days = true, where = true,
  kcore = rp.config.keys { "min_user", "min_item" } }, "explore")
local cfg = rp.config.args(defaults, ...)
local cols = cfg.columns
local weights = cfg.weights
if weights == nil then weights = default_weights end
if not cols.event or next(weights) == nil then weights = nil end

-- ---- formatting ----------------------------------------------------------------
local function int(n) -- 1234567 -> "1,234,567"
  local s = string.format("%d", math.floor(n + 0.5))
  local sign, digits = s:match("^(-?)(%d+)$")
  digits = digits:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return sign .. digits
end

local function num(x) -- a quantile or mean: 1 decimal below 100, else whole
  if x == math.floor(x) or math.abs(x) >= 100 then return int(x) end
  return string.format("%.1f", x)
end

local function pct(part, whole)
  return whole > 0 and string.format("%.1f%%", 100 * part / whole) or "-"
end

local function date(t) return os.date("!%Y-%m-%d %H:%M", t) end

local function sorted_counts(counts) -- {name = n} -> names by count, largest first
  local names = {}
  for k in pairs(counts) do names[#names + 1] = k end
  table.sort(names, function(a, b)
    if counts[a] ~= counts[b] then return counts[a] > counts[b] end
    return tostring(a) < tostring(b)
  end)
  return names
end

local function breakdown(counts, total, limit)
  local parts, names = {}, sorted_counts(counts)
  for i, k in ipairs(names) do
    if limit and i > limit then
      parts[#parts + 1] = ("(+%d more)"):format(#names - limit)
      break
    end
    parts[#parts + 1] = ("%s %s (%s)"):format(k, int(counts[k]), pct(counts[k], total))
  end
  return table.concat(parts, "  ")
end

local function plural(n, word) return int(n) .. " " .. word .. (n == 1 and "" or "s") end

local function row(label, value) print(("  %-16s %s"):format(label, value)) end

local QUANTS = { "min", "p25", "median", "p75", "p90", "p99", "max", "mean" }
local function quantile_table(st)
  local head = { ("  %-16s"):format("") }
  for _, q in ipairs(QUANTS) do head[#head + 1] = ("%8s"):format(q) end
  print(table.concat(head))
  for _, side in ipairs { { "per user", st.per_user }, { "per item", st.per_item } } do
    local line = { ("  %-16s"):format(side[1]) }
    for _, q in ipairs(QUANTS) do line[#line + 1] = ("%8s"):format(num(side[2][q])) end
    print(table.concat(line))
  end
end

local function matrix_line(label, m)
  local s = m:stats()
  local cells = s.users * s.items
  row(label, ("%s users x %s items, %s non-zeros, density %s (shape %d x %d)"):format(
    int(s.users), int(s.items), int(s.nnz), cells > 0 and ("%.3f%%"):format(100 * s.nnz / cells)
    or "-", s.nrows, s.ncols))
  return s
end

-- ---- the log ----------------------------------------------------------------------
local read_opts = { user = cols.user, item = cols.item, time = cols.time, event = cols.event,
  value = cols.value, context = (cfg.context and #cfg.context > 0) and cfg.context or nil }
local ev, rep = rp.io.read_events(cfg.input, read_opts)
local st = ev:stats()

print(("Log %s"):format(cfg.input))
row("read", ("%s lines, %s MB in %.2f s"):format(int(rep.lines), ("%.1f"):format(rep.bytes / 1e6),
  rep.seconds))
row("events", int(st.events))
row("users", int(st.users))
row("items", int(st.items))
if st.tmin then
  row("time range", ("%s .. %s UTC (%.1f days)"):format(date(st.tmin), date(st.tmax),
    (st.tmax - st.tmin) / 86400))
end
if st.event_types then row("event types", breakdown(st.event_types, st.events)) end
for _, name in ipairs(read_opts.context or {}) do
  row(name, breakdown(st.contexts[name], st.events, 8))
end
print()
print("Events per user and per item")
quantile_table(st)
print()

-- ---- the matrix -------------------------------------------------------------------------
if weights then
  local parts = {}
  for _, k in ipairs(sorted_counts(weights)) do parts[#parts + 1] = k .. "=" .. weights[k] end
  -- the log read once: each event valued at its type's weight (times the
  -- value column when there is one, as read_events{weights=} does)
  local raw, dropped = ev, nil
  ev, dropped = raw:weight(weights, { multiply = cols.value ~= nil })
  raw:free()
  print(("Matrix (weights %s, aggregate %s%s)"):format(table.concat(parts, " "), cfg.aggregate,
    cfg.half_life_days and (", half-life %g days"):format(cfg.half_life_days) or ""))
  if dropped > 0 then
    row("dropped", ("%s events of types without a weight"):format(int(dropped)))
  end
else
  print(("Matrix (aggregate %s%s)"):format(cfg.aggregate,
    cfg.half_life_days and (", half-life %g days"):format(cfg.half_life_days) or ""))
end
if cfg.where then
  local n = #ev
  ev = ev:where(cfg.where)
  row("where", ("kept %s of %s events"):format(int(#ev), int(n)))
end
local m = ev:to_matrix { aggregate = cfg.aggregate, half_life_days = cfg.half_life_days }
local before = matrix_line("before k-core", m)
local k, kr = m:kcore(cfg.kcore)
row("k-core", ("min_user=%d min_item=%d: removed %s, %s, %s (%s) in %s"):format(
  cfg.kcore.min_user or 1, cfg.kcore.min_item or 1, plural(kr.users_removed, "user"),
  plural(kr.items_removed, "item"), plural(kr.interactions_removed, "interaction"),
  pct(kr.interactions_removed, before.nnz), plural(kr.rounds, "round")))
local after = matrix_line("after k-core", k)
if after.nnz > 0 then
  row("values", ("min %.3g, mean %.3g, max %.3g, sum %.6g"):format(after.min, after.mean, after.max,
    after.sum))
end
