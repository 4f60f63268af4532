-- wrk script: each request asks for one of 1000 product pages at random,
-- so concurrent requests rarely share a page (no collapsing, many copies).
math.randomseed(9)
request = function()
  return wrk.format(nil, "/product/" .. math.random(1, 1000))
end
