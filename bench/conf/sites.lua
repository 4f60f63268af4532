-- wrk script of workload S: each request is for /product/1 on one of N
-- shops at random, N taken from the URL's path (http://host:port/10000),
-- so that one script drives both the many-site node and the one-site
-- node with requests of the same shape.
local n = tonumber(string.sub(wrk.path, 2)) or 1
math.randomseed(11)
request = function()
  local host = "shop" .. math.random(0, n - 1) .. ".example"
  return wrk.format("GET", "/product/1", {["Host"] = host, ["Accept-Encoding"] = "gzip"})
end
