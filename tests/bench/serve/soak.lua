-- wrk: the soak mix, a third valid and two thirds malformed requests; the
-- answers counted by class (a malformed request must get a 4xx, never a 5xx)
local users = {}
local mix = {
  function() return wrk.format("GET", "/v1/recommend?user=" .. users[math.random(#users)] .. "&k=10") end,
  function() return wrk.format("POST", "/v1/recommend", nil, '{"history":["1","2","3"],"k":5}') end,
  function() return wrk.format("POST", "/v1/events", nil, '{"user":"1","item":"2","event":"click"}') end,
  function() return wrk.format("GET", "/v1/similar?item=" .. math.random(0, 49999) .. "&k=5") end,
  function() return wrk.format("GET", "/v1/recommend?user=1&k=0") end,
  function() return wrk.format("GET", "/v1/recommend?user=1&frob=2") end,
  function() return wrk.format("POST", "/v1/recommend", nil, '{"user":') end,
  function() return wrk.format("POST", "/v1/recommend", nil, string.rep("[", 5000)) end,
  function() return wrk.format("POST", "/v1/events", nil, '{"user":"1","item":"2","event":"zap"}') end,
  function() return wrk.format("POST", "/v1/events", nil, '[' .. string.rep('{"user":"u","item":"i","event":"view"},', 1500) .. '{}]') end,
  function() return wrk.format("GET", "/nowhere") end,
  function() return wrk.format("DELETE", "/v1/recommend") end,
}
c2, c4, c5, cx = 0, 0, 0, 0
init = function(args)
  for line in io.lines(os.getenv("USERS_FILE")) do users[#users + 1] = line end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 1000)
end
request = function() return (mix[math.random(#mix)]()) end
response = function(status)
  if status >= 200 and status < 300 then c2 = c2 + 1
  elseif status >= 400 and status < 500 then c4 = c4 + 1
  elseif status >= 500 and status < 600 then c5 = c5 + 1
  else cx = cx + 1 end
end
local threads = {}
setup = function(thread) threads[#threads + 1] = thread end
done = function()
  local t = { 0, 0, 0, 0 }
  for _, th in ipairs(threads) do
    t[1], t[2] = t[1] + th:get("c2"), t[2] + th:get("c4")
    t[3], t[4] = t[3] + th:get("c5"), t[4] + th:get("cx")
  end
  io.write(("soak: 2xx %d, 4xx %d, 5xx %d, other %d\n"):format(t[1], t[2], t[3], t[4]))
end
