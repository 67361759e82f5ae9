-- wrk: POST /v1/events, one click per request
local types = { "view", "click", "addtocart", "purchase" }
init = function(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 1000)
end
request = function()
  local body = ('{"user":"%d","item":"%d","event":"%s","request_id":"bench"}'):format(
    math.random(0, 199999), math.random(0, 49999), types[math.random(4)])
  return wrk.format("POST", "/v1/events", { ["Content-Type"] = "application/json" }, body)
end
