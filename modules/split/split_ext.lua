-- Pure-Lua parts of rp.split: the kfold and rolling iterators (each step is
-- one C split).  Their options, names, defaults and ranges, are the C
-- core's (rp.split.options); times are read by the C core too (Unix
-- seconds or ISO 8601 text, UTC without an offset).
return function(rp)
  local split = rp.split
  if not split then return end

  local DAY = 86400

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
    local o = checked("rolling", opts)
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
    local start = o.start or tmin
    local stop = o.stop or tmax + 1
    local w = 0
    return function()
      local train_end = start + w * step_s + train_s
      if train_end >= stop then return nil end
      local train_start = o.expanding and start or start + w * step_s
      local test_end = math.min(train_end + test_s, stop)
      w = w + 1
      local train, test, info = split.window(ev, { train_start = train_start, train_end = train_end,
        test_end = test_end, keep_unknown = o.keep_unknown })
      info.window, info.train_start, info.train_end, info.test_end = w, train_start, train_end,
        test_end
      return train, test, info
    end
  end
end
