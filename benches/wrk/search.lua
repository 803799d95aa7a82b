-- GET /search with queries taken in turn from $QUERIES (comma-separated).
local queries = {}
local i = 0
local base = os.getenv("PATH_PREFIX")
init = function(args)
  for q in string.gmatch(os.getenv("QUERIES"), "([^,]+)") do
    queries[#queries + 1] = q:gsub(" ", "%%20")
  end
  i = math.random(#queries)
end
request = function()
  i = i % #queries + 1
  return wrk.format("GET", base .. queries[i])
end
