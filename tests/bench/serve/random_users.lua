-- wrk: GET /v1/recommend for users drawn uniformly from USERS_FILE (known users)
local users = {}
init = function(args)
  for line in io.lines(os.getenv("USERS_FILE")) do users[#users + 1] = line end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 1000)
end
request = function()
  return wrk.format("GET", "/v1/recommend?user=" .. users[math.random(#users)] .. "&k=10")
end
