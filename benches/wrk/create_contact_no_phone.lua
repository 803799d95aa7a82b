-- POST a new contact without a phone number per request (wrk runs one copy of this per thread).
local n = 0
local tag = tostring(math.random(1, 1e9))
-- Keep the -H headers (Authorization) and add the body's type.
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local body = string.format(
    '{"first_name":"Bench%d","last_name":"Load%s","emails":[{"email":"b%d.%s@example.com"}],' ..
    '"stage":"lead","source":"benchmark"}',
    n, tag, n, tag)
  return wrk.format("POST", nil, nil, body)
end
