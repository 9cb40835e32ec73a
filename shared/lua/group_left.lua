--[[
  group_left(stream, group, length): how many entries of `stream` consumer
  group `group` has not acknowledged yet (pending + lag; `length`, every
  entry, when Redis cannot tell the lag), or nil when the stream has no such
  group. XADD's MAXLEN trims the oldest entries whether a group read them or
  not: the scripts that trim (bridge_append-2.lua, publish_alert.lua) ask this
  first. Prepended to them where they are loaded (bridge/append.ts,
  detector/io/publisher.ts).
]]
local function group_left(stream, group, length)
  local groups = redis.pcall('XINFO', 'GROUPS', stream)
  if groups.err then return nil end
  for _, g in ipairs(groups) do
    local name, pending, lag
    for k = 1, #g, 2 do
      if g[k] == 'name' then name = g[k + 1]
      elseif g[k] == 'pending' then pending = g[k + 1]
      elseif g[k] == 'lag' then lag = g[k + 1] end
    end
    if name == group then return pending + (lag or length) end
  end
  return nil
end
