-- wrk script of workload S: each request is for one of P pages of one of
-- N shops, both at random, N and P taken from the URL's path
-- (http://host:port/N/P): /10000/1 is 10,000 shops with a page each,
-- /1/10000 one shop with 10,000 pages (as many copies), /1/1 one page.
local s, p = string.match(wrk.path, "^/(%d+)/(%d+)$")
local n, pages = tonumber(s) or 1, tonumber(p) or 1
math.randomseed(11)
request = function()
  local host = "shop" .. math.random(0, n - 1) .. ".example"
  local path = "/product/" .. math.random(1, pages)
  return wrk.format("GET", path, {["Host"] = host, ["Accept-Encoding"] = "gzip"})
end
