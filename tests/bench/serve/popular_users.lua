-- wrk: GET /v1/recommend, 90% of requests from 500 popular users, 10% from
-- everyone (USERS_FILE): the cached benchmark's mix
local users = {}
init = function(args)
  for line in io.lines(os.getenv("USERS_FILE")) do users[#users + 1] = line end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 1000)
end
request = function()
  local u = math.random() < 0.9 and users[math.random(500)] or users[math.random(#users)]
  return wrk.format("GET", "/v1/recommend?user=" .. u .. "&k=10")
end
