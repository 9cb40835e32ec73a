--[[
  publish_alert (2 keys): append an alert to the durable alerts stream and
  publish it on the live channel, at most once per marker. The detector calls
  it for every new (or resolved) anomaly after the row is stored; calling it
  again after a crash (recovery pass) is a no-op for alerts already appended.

  KEYS[1]  alerts stream                       (keys.alerts())
  KEYS[2]  published markers, sorted set        (keys.publishedMarkers())
           member = marker, score = publish time (ms)
  ARGV[1]  marker: the anomaly id, or "<id>:resolved"
  ARGV[2]  alert JSON (shared/schemas/alert.ts)
  ARGV[3]  Pub/Sub channel                      (keys.alertsChannel())
  ARGV[4]  now, ms since epoch
  ARGV[5]  marker retention, ms
  ARGV[6]  approximate MAXLEN of the alerts stream
  ARGV[7]  the consumer group that reads it (the notifier's): MAXLEN trims the
           oldest entries whether the group read them or not, so while the group
           has MAXLEN or more alerts left to process the stream grows instead of
           being trimmed (the detector is not held up; nothing unsent is lost)

  Output: the new stream entry id, or false (nil) when the marker was already published.
]]
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return false
end
local maxlen = tonumber(ARGV[6])
local length = redis.call('XLEN', KEYS[1])
-- group_left: shared/lua/group_left.lua, prepended to this script.
local left = length + 1 > maxlen and group_left(KEYS[1], ARGV[7], length)
local trim = not (left and left + 1 > maxlen)
local id
if trim then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], '*', 'alert', ARGV[2])
else
  id = redis.call('XADD', KEYS[1], '*', 'alert', ARGV[2])
end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[4]) - tonumber(ARGV[5]))
redis.call('PUBLISH', ARGV[3], ARGV[2])
return id
