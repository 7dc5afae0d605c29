-- wrk script for `scripts/bench --closed`: the load generator's ~1.3 KB event (an exception
-- with 8 frames, breadcrumbs, tags, user, contexts; one of 40 "bugs"), posted to
-- /api/v1/events with the keys of $MESHER_BENCH_KEYS round-robin.
local keys = {}
for line in io.lines(os.getenv("MESHER_BENCH_KEYS")) do
  keys[#keys + 1] = line:match("^(%S+)")
end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("offset", counter)
end

local n = 0
function request()
  n = n + 1
  local i = n * 7 + (offset or 0)
  local bug = i % 40
  local frames = {}
  for f = 0, 7 do
    local fn = f == 7 and ("handler_" .. bug) or ("step_" .. f)
    frames[#frames + 1] = string.format(
      '{"filename":"app/mod_%d.py","function":"%s","lineno":%d,"in_app":%s}',
      f, fn, 10 + f * 7 + i % 3, f >= 3 and "true" or "false")
  end
  local body = string.format(
    '{"timestamp":"%s","level":"%s","platform":"python","release":"shop@2.4.1","environment":"production",' ..
    '"server_name":"web-3","transaction":"/api/checkout","exception":{"values":[{"type":"PaymentError%d",' ..
    '"value":"card declined for order %d","stacktrace":{"frames":[%s]}}]},"breadcrumbs":[' ..
    '{"timestamp":1790000000.5,"category":"http","message":"POST /api/cart 200"},' ..
    '{"timestamp":1790000001.0,"category":"db","message":"SELECT * FROM orders"}],' ..
    '"tags":{"region":"eu-west-1","customer_tier":"gold"},"user":{"id":"%d","email":"someone@example.com"},' ..
    '"contexts":{"runtime":{"name":"CPython","version":"3.11.7"}},"extra":{"cart_items":3}}',
    os.date("!%Y-%m-%dT%H:%M:%SZ"), bug % 5 == 0 and "warning" or "error", bug, i, table.concat(frames, ","), i % 1000)
  return wrk.format("POST", "/api/v1/events", {
    ["Content-Type"] = "application/json",
    ["X-Mesher-Key"] = keys[i % #keys + 1],
  }, body)
end
