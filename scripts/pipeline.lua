-- pipeline.lua: wrk sends DEPTH requests per write (default 16) and counts
-- each of them, as in the TechEmpower plaintext test.
-- Usage: wrk -s scripts/pipeline.lua URL -- [DEPTH] [PATH]

local depth = 16
local batch

init = function(args)
  depth = tonumber(args[1]) or depth
  local path = args[2] or wrk.path
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, path)
  end
  batch = table.concat(r)
end

request = function()
  return batch
end
