--[[
  Append one chunk of a Kafka partition batch to the event streams and the
  dead-letter stream, exactly once: messages at or below the partition's
  stored high-water offset are skipped, and the high-water offset moves in
  the same script, so a redelivered batch never duplicates an entry.

  Input:
    KEYS[1] offsets hash (field "topic:partition" -> last appended offset)
    KEYS[2] dead-letter stream
    KEYS[3] events stream: logs
    KEYS[4] events stream: metrics
    KEYS[5] events stream: transactions

    ARGV[1] hash field "topic:partition"
    ARGV[2] approximate MAXLEN of every stream
    ARGV[3] topic
    ARGV[4] partition
    ARGV[5] ingest_ts (ms since epoch)
    ARGV[6] last offset of the previous chunk of the same batch, "" for the
            first chunk: when the stored high-water is below it (that chunk
            failed), nothing is written, so no offset can be skipped
    ARGV[7..] 5 values per message, offsets increasing:
            offset, key index (2 = dead letter, 3..5 = event stream), a, b, c
            event:       a = data, b = message key, c = traceparent ("" = none)
            dead letter: a = raw,  b = reason,      c = encoding

  Output:
    { appended, skipped, high-water offset }
    error "GAP ..." when the previous chunk was not applied
    error "APPEND ..." when an XADD failed (the high-water then covers
            exactly the entries appended before it)
]]
local field = ARGV[1]
local maxlen = ARGV[2]
local topic = ARGV[3]
local partition = ARGV[4]
local ts = ARGV[5]

local stored = redis.call('HGET', KEYS[1], field)
local hw = -1
if stored then hw = tonumber(stored) end

if ARGV[6] ~= '' and hw < tonumber(ARGV[6]) then
  return redis.error_reply('GAP previous chunk ending at ' .. ARGV[6] .. ' not applied, high-water ' .. hw)
end

local appended = 0
local skipped = 0
local last = hw
for i = 7, #ARGV, 5 do
  local offset = ARGV[i]
  local n = tonumber(offset)
  if n <= last then
    skipped = skipped + 1
  else
    local index = tonumber(ARGV[i + 1])
    local r
    if index == 2 then
      r = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*',
        'source', 'bridge', 'reason', ARGV[i + 3], 'raw', ARGV[i + 2], 'encoding', ARGV[i + 4],
        'topic', topic, 'partition', partition, 'offset', offset, 'ts', ts)
    elseif ARGV[i + 4] ~= '' then
      r = redis.pcall('XADD', KEYS[index], 'MAXLEN', '~', maxlen, '*',
        'data', ARGV[i + 2], 'topic', topic, 'partition', partition, 'offset', offset,
        'key', ARGV[i + 3], 'ingest_ts', ts, 'traceparent', ARGV[i + 4])
    else
      r = redis.pcall('XADD', KEYS[index], 'MAXLEN', '~', maxlen, '*',
        'data', ARGV[i + 2], 'topic', topic, 'partition', partition, 'offset', offset,
        'key', ARGV[i + 3], 'ingest_ts', ts)
    end
    if type(r) == 'table' and r.err then
      if last > hw then redis.call('HSET', KEYS[1], field, string.format('%d', last)) end
      return redis.error_reply('APPEND failed at offset ' .. offset .. ': ' .. r.err)
    end
    appended = appended + 1
    last = n
  end
end

if last > hw then redis.call('HSET', KEYS[1], field, string.format('%d', last)) end
return { appended, skipped, string.format('%d', last) }
