-- recpipe.test: a small test harness for the Lua test layer.
--
--   local T = require "recpipe.test"
--   T.case("name", function() T.eq(1 + 1, 2) end)
--   T.done()   -- prints a summary, exits 1 on any failure
local T = { passed = 0, failed = 0, current = nil }

local function fmt(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

local function fail(msg, level)
  error({ test_failure = true, msg = msg, where = debug.traceback("", (level or 2) + 1) }, 0)
end

function T.ok(cond, msg)
  if not cond then fail(msg or "expected a true value", 2) end
end

function T.eq(got, want, msg)
  if got ~= want then
    fail(("%sexpected %s, got %s"):format(msg and (msg .. ": ") or "", fmt(want), fmt(got)), 2)
  end
end

function T.near(got, want, tol, msg)
  tol = tol or 1e-6
  if type(got) ~= "number" or math.abs(got - want) > tol * math.max(1, math.abs(want)) then
    fail(("%sexpected %s (within %g), got %s"):format(msg and (msg .. ": ") or "",
      fmt(want), tol, fmt(got)), 2)
  end
end

local function deq(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not deq(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function dump(v, depth)
  depth = depth or 0
  if type(v) ~= "table" or depth > 3 then return fmt(v) end
  local parts = {}
  for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. dump(x, depth + 1) end
  table.sort(parts)
  return "{" .. table.concat(parts, ", ") .. "}"
end

function T.same(got, want, msg)
  if not deq(got, want) then
    fail(("%sexpected %s, got %s"):format(msg and (msg .. ": ") or "", dump(want), dump(got)), 2)
  end
end

-- T.errors(fn, pattern): fn must raise an error whose message contains
-- pattern (plain text match); returns the message.
function T.errors(fn, pattern, msg)
  local ok, err = pcall(fn)
  if ok then fail((msg and msg .. ": " or "") .. "expected an error matching '" .. pattern .. "'", 2) end
  err = tostring(type(err) == "table" and err.msg or err)
  if pattern and not err:find(pattern, 1, true) then
    fail(("%sexpected error containing '%s', got '%s'"):format(msg and (msg .. ": ") or "",
      pattern, err), 2)
  end
  return err
end

-- A temporary directory removed at exit.
function T.tmpdir()
  if not T._tmp then
    local p = io.popen("mktemp -d /tmp/recpipe-test.XXXXXX")
    T._tmp = p:read("l")
    p:close()
  end
  return T._tmp
end

function T.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

function T.case(name, fn)
  T.current = name
  local ok, err = xpcall(fn, function(e)
    if type(e) == "table" and e.test_failure then return e end
    return { msg = tostring(e), where = debug.traceback("", 2) }
  end)
  if ok then
    T.passed = T.passed + 1
  else
    T.failed = T.failed + 1
    io.stderr:write(("FAIL %s: %s\n%s\n"):format(name, err.msg, err.where or ""))
  end
end

function T.skip(reason)
  io.stderr:write("SKIP " .. (arg and arg[0] or "?") .. ": " .. reason .. "\n")
  os.exit(77)
end

function T.done()
  if T._tmp then os.execute("rm -rf '" .. T._tmp .. "'") end
  local script = arg and arg[0] or "?"
  print(("%s: %d passed, %d failed"):format(script, T.passed, T.failed))
  os.exit(T.failed == 0 and 0 or 1)
end

return T
