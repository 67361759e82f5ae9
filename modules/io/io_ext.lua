-- Pure-Lua parts of rp.io: Events methods composed from other modules'
-- public parts (no module's C reaches into another's).
return function(rp)
  if not rp.io then return end
  local mt = debug.getregistry()["recpipe.Events"]
  if type(mt) ~= "table" or type(mt.methods) ~= "table" then return end

  -- ev:kcore{min_user = 1, min_item = 1} -> Events, report: the events of
  -- the users and items the (min_user, min_item) k-core of
  -- ev:to_matrix() keeps (interactions are distinct (user, item) pairs, as
  -- the matrix counts them); every event of a kept pair stays, in order,
  -- on the same maps.  The report is m:kcore's plus events and
  -- events_removed.
  function mt.methods.kcore(ev, opts)
    if opts ~= nil and type(opts) ~= "table" then
      error(("bad argument #1 to 'kcore' (table expected, got %s)"):format(type(opts)), 2)
    end
    local m <close> = ev:to_matrix { aggregate = "count" }
    local ok, core, rep = pcall(m.kcore, m, opts)
    if not ok then -- the options' errors, as ev:kcore's own
      local msg = type(core) == "string" and core:match("bad argument #2 to '[^']*' %((.*)%)$")
      error(msg and ("bad argument #1 to 'kcore' (%s)"):format(msg) or core, 2)
    end
    local users, items = {}, {}
    do
      local rc <close> = core:row_counts()
      local cc <close> = core:col_counts()
      local ids = ev.users
      for i, c in ipairs(rc:totable()) do if c > 0 then users[#users + 1] = ids:id(i) end end
      ids = ev.items
      for i, c in ipairs(cc:totable()) do if c > 0 then items[#items + 1] = ids:id(i) end end
    end
    core:free()
    local out = ev:where { users = users, items = items }
    rep.events = #out
    rep.events_removed = #ev - #out
    return out, rep
  end
end
