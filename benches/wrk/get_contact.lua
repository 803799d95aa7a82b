-- GET a random existing contact per request; ids come from the file named by $IDS.
local ids = {}
local base = os.getenv("PATH_PREFIX")
init = function(args)
  for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
  math.randomseed(os.time() + #ids)
end
request = function()
  return wrk.format("GET", base .. ids[math.random(#ids)])
end
