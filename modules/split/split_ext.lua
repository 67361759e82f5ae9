-- Pure-Lua parts of rp.split: the kfold and rolling iterators (each step is
-- one C split), and dates ("2024-03-01", "2024-03-01 12:00:00") accepted
-- wherever a split takes a time, read as UTC.
return function(rp)
  local split = rp.split
  if not split then return end

  local DAY = 86400

  -- Days since 1970-01-01 of a civil date (proleptic Gregorian).
  local function days_from_civil(y, m, d)
    if m <= 2 then y = y - 1 end
    local era = (y >= 0 and y or y - 399) // 400
    local yoe = y - era * 400
    local mp = (m + 9) % 12
    local doy = (153 * mp + 2) // 5 + d - 1
    local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
  end

  -- Unix seconds of a number or a date string (UTC), or nil and a message.
  local function parse_time(v, what)
    if math.type(v) == "integer" then return v end
    if type(v) == "number" then return math.floor(v) end
    if type(v) == "string" then
      local y, mo, d, rest = v:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
      local h, mi, s = "0", "0", "0"
      if y and rest ~= "" then
        h, mi, s = rest:match("^[T ](%d%d):(%d%d):?(%d?%d?)Z?$")
      end
      if y and h then
        y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
        if mo >= 1 and mo <= 12 and d >= 1 and d <= 31 then
          return days_from_civil(y, mo, d) * DAY + tonumber(h) * 3600 + tonumber(mi) * 60
            + (tonumber(s) or 0)
        end
      end
    end
    return nil, ("%s must be Unix seconds or a date 'YYYY-MM-DD[ HH:MM:SS]', got %s")
      :format(what, type(v) == "string" and ("'" .. v .. "'") or tostring(v))
  end

  -- split.time(v) -> Unix seconds of a number or a date string (UTC)
  function split.time(v)
    local t, msg = parse_time(v, "time")
    if not t then error("bad argument #1 to 'time' (" .. msg .. ")", 2) end
    return t
  end

  local function with_times(fname, opts, fields)
    if type(opts) ~= "table" then return opts end
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    for _, f in ipairs(fields) do
      if o[f] ~= nil then
        local t, msg = parse_time(o[f], "field '" .. f .. "'")
        if not t then error(("bad argument #2 to '%s' (%s)"):format(fname, msg), 3) end
        o[f] = t
      end
    end
    return o
  end

  -- the C functions, called as fields so that their errors name them
  local c = { by_time = split.by_time, window = split.window, time_range = split.time_range }
  function split.by_time(ev, opts) return c.by_time(ev, with_times("by_time", opts, { "cutoff" })) end
  function split.window(ev, opts)
    return c.window(ev, with_times("window", opts, { "train_start", "train_end", "test_end" }))
  end
  function split.time_range(ev, opts) return c.time_range(ev, with_times("time_range", opts, { "from", "to" })) end

  -- split.span(ev) -> first and last event time (nil when no time column)
  split.span = split._span

  -- fname's options checked by the C core's descriptors (rp.split.options),
  -- defaults filled in; an error names argument #2 of fname at its caller.
  local function checked(fname, opts)
    local ok, o = pcall(split._checkopts, fname, opts)
    if ok then return o end
    local msg = type(o) == "string" and o:match("^bad argument #%d+ to '[^']*' %((.*)%)$")
    error(msg and ("bad argument #2 to '%s' (%s)"):format(fname, msg) or o, 3)
  end

  -- for train, test, summary in split.kfold(ev, {k = 5, seed = 42}) do ... end
  -- summary.fold is the fold number (1..k).
  function split.kfold(ev, opts)
    local o = checked("kfold", opts)
    -- check the events once, before the first fold
    split._fold(ev, { k = o.k, fold = 1, seed = o.seed, by = o.by })
    local fold = 0
    return function()
      fold = fold + 1
      if fold > o.k then return nil end
      local train, test, summary = split._fold(ev, { k = o.k, fold = fold, seed = o.seed,
        by = o.by })
      summary.fold = fold
      return train, test, summary
    end
  end

  -- for train, test, info in split.rolling(ev, {train_days = 28, test_days = 7,
  --     step_days = 7}) do ... end
  -- Window w trains on [start + (w-1)*step, + train_days) (or from start when
  -- expanding = true) and tests on the test_days after it; windows run while
  -- the test period starts at or before the last event.  info is the split
  -- summary plus window, train_start, train_end, test_end (Unix seconds).
  function split.rolling(ev, opts)
    if type(opts) ~= "table" then error("bad argument #2 to 'rolling' (table expected)", 2) end
    local o = checked("rolling", with_times("rolling", opts, { "start", "stop" }))
    for _, f in ipairs { "train_days", "test_days" } do
      if o[f] == nil then error(("bad argument #2 to 'rolling' (field '%s' is required)"):format(f), 2) end
    end
    local function seconds(days) return math.floor(days * DAY + 0.5) end
    local train_s, test_s = seconds(o.train_days), seconds(o.test_days)
    local step_s = seconds(o.step_days or o.test_days)
    local tmin, tmax = split._span(ev)
    if not tmin then
      if #ev == 0 then return function() return nil end end
      error("bad argument #1 to 'rolling' (the events have no time column)", 2)
    end
    local times = with_times("rolling", opts, { "start", "stop" })
    local start = times.start or tmin
    local stop = times.stop or tmax + 1
    local w = 0
    return function()
      local train_end = start + w * step_s + train_s
      if train_end >= stop then return nil end
      local train_start = o.expanding and start or start + w * step_s
      local test_end = math.min(train_end + test_s, stop)
      w = w + 1
      local train, test, info = c.window(ev, { train_start = train_start, train_end = train_end,
        test_end = test_end, keep_unknown = o.keep_unknown })
      info.window, info.train_start, info.train_end, info.test_end = w, train_start, train_end,
        test_end
      return train, test, info
    end
  end
end
