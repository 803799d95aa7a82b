-- POST a new contact per request (wrk runs one copy of this per thread).
-- WITH_PHONE=0 leaves the phone number out (to see what phone parsing costs).
local n = 0
local tag = tostring(math.random(1, 1e9))
local with_phone = os.getenv("WITH_PHONE") ~= "0"
-- Keep the -H headers (Authorization) and add the body's type.
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local phone = ""
  if with_phone then
    phone = string.format('"phones":[{"phone":"+1 415 555 01%02d"}],', n % 100)
  end
  local body = string.format(
    '{"first_name":"Bench%d","last_name":"Load%s","emails":[{"email":"b%d.%s@example.com"}],' ..
    '%s"stage":"lead","source":"benchmark"}',
    n, tag, n, tag, phone)
  return wrk.format("POST", nil, nil, body)
end
