-- drift_weeks.lua: the calibration of pipelines/drift.lua's default
-- thresholds (tests/bench/RESULTS.md, monitor).  For each seed, a 16-week
-- shop log with a taste shift on 2024-03-06 (week 10) is generated, then
-- the pipeline runs as a weekly check at the end of every week from 2 to
-- 16, as a separate process with the default config (examples/drift.yaml),
-- and its report is read back.  Printed: every measure per week for the
-- first seed, then over all seeds the largest value in the five checks
-- before the shift (weeks 5-9) and the smallest in the first check after
-- it (week 10), per comparison and measure, and the exit statuses.
--
--   recpipe run tests/bench/drift_weeks.lua [users=5000 items=2000 events=200000 seeds=42,1,2,...]
local rp = require "recpipe"
local cfg = rp.config.args({ users = 5000, items = 2000, events = 200000,
  seeds = "42,1,2,3,4,5,6,7,8,9", out = "tests/bench/data/drift" }, ...)
local bin = rp.paths.exe
local DAY, W0 = 86400, rp.split.time("2024-01-01")
os.execute(("mkdir -p '%s'"):format(cfg.out))

local function run_week(log, w, report)
  local now = W0 + w * 7 * DAY
  local cmd = ("'%s' run --quiet examples/drift.yaml data.path='%s' now=%d report='%s' >/dev/null 2>&1")
    :format(bin, log, now, report)
  local ok, how, code = os.execute(cmd)
  return how == "exit" and code or -1
end

local function read_report(path)
  local rows = {}
  for line in io.lines(path) do
    local _, cmp, m, col, v, t, _, alert = line:match("^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*)$")
    if cmp and cmp ~= "comparison" then
      local key = cmp .. " " .. m .. (col ~= "" and ("[" .. col .. "]") or "")
      rows[key] = { value = tonumber(v), threshold = tonumber(t), alert = alert == "true" }
    end
  end
  return rows
end

local seeds = {}
for s in tostring(cfg.seeds):gmatch("[^,]+") do seeds[#seeds + 1] = math.tointeger(tonumber(s)) end
local pre, post, statuses, keys = {}, {}, {}, {}
local t0 = rp.clock()
for si, seed in ipairs(seeds) do
  local log = ("%s/shift-%d-%d-%d-%d.csv.gz"):format(cfg.out, cfg.users, cfg.items, cfg.events, seed)
  if not io.open(log) then
    rp.gen.events { path = log, users = cfg.users, items = cfg.items, events = cfg.events,
      days = 112, seed = seed, shift = { at = "2024-03-06" }, gzip_level = 1 }
  end
  local weeks, codes = {}, {}
  for w = 2, 16 do
    local report = ("%s/report-%d-%d.csv"):format(cfg.out, seed, w)
    codes[w] = run_week(log, w, report)
    weeks[w] = read_report(report)
    for k, r in pairs(weeks[w]) do
      if not keys[k] then keys[k] = true; keys[#keys + 1] = k end
      local v = math.abs(r.value)
      if w >= 5 and w <= 9 then pre[k] = math.max(pre[k] or 0, v) end
      if w == 10 then post[k] = math.min(post[k] or math.huge, v) end
    end
  end
  statuses[si] = codes
  if si == 1 then
    print(("seed %d: %d users, %d items, %d events over 16 weeks, shift 2024-03-06 (week 10)")
      :format(seed, cfg.users, cfg.items, cfg.events))
    local head = { ("%-30s"):format("check at the end of week") }
    for w = 2, 16 do head[#head + 1] = ("%6d"):format(w) end
    print(table.concat(head))
    table.sort(keys, function(a, b) return a < b end)
    for _, k in ipairs(keys) do
      local cells = { ("%-30s"):format(k) }
      for w = 2, 16 do
        local r = weeks[w][k]
        cells[#cells + 1] = r and ("%6.3f%s"):format(r.value, r.alert and "*" or " "):sub(1, 7) or "      -"
      end
      print(table.concat(cells))
    end
    local ex = { ("%-30s"):format("exit status") }
    for w = 2, 16 do ex[#ex + 1] = ("%6d "):format(codes[w]) end
    print(table.concat(ex))
  end
end
print(("\n%d seeds (%s), %.0f s"):format(#seeds, cfg.seeds, rp.clock() - t0))
print(("%-30s %14s %14s %10s"):format("measure (|value|)", "max wk 5-9", "min wk 10", "threshold"))
local any = read_report(("%s/report-%d-10.csv"):format(cfg.out, seeds[1]))
for _, k in ipairs(keys) do
  local th = any[k] and any[k].threshold
  print(("%-30s %14.4f %14.4f %10s%s"):format(k, pre[k] or 0 / 0, post[k] or 0 / 0,
    th and ("%.4g"):format(th) or "off",
    th and pre[k] and post[k] and (pre[k] < th and post[k] > th and "  separates" or
      pre[k] >= th and "  FALSE ALARM" or "") or ""))
end
local false_alarms, missed = 0, 0
for _, codes in ipairs(statuses) do
  for w = 5, 9 do false_alarms = false_alarms + (codes[w] ~= 0 and 1 or 0) end
  missed = missed + (codes[10] ~= 2 and 1 or 0)
end
print(("exit statuses: %d alerts in the %d checks before the shift (weeks 5-9), %d of %d "
  .. "first checks after it (week 10) without an alert"):format(false_alarms, 5 * #seeds, missed,
  #seeds))
