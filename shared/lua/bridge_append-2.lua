--[[
  bridge_append (2 keys): append one chunk of a Kafka partition batch's
  messages routed to one stream (an event stream partition, or the
  dead-letter stream), exactly once: items at or below the stored high-water
  offset of their Kafka partition for this stream are skipped, and the
  high-water moves in the same script, so a redelivered batch never
  duplicates an entry. The two keys share a hash tag (one cluster slot).

  KEYS[1] offsets hash of the stream: field "topic:partition" -> last Kafka
          offset appended to this stream
  KEYS[2] the stream

  ARGV[1] hash field "topic:partition"
  ARGV[2] approximate MAXLEN of the stream
  ARGV[3] topic
  ARGV[4] partition
  ARGV[5] ingest_ts (ms since epoch)
  ARGV[6] last offset of the previous chunk to this stream of the same batch,
          "" for the first chunk: when the stored high-water is below it (that
          chunk failed), nothing is written, so no offset can be skipped
  ARGV[7] the partition's high watermark in Kafka when the batch was fetched
          ("" = unknown). First chunk only: a stored high-water at or above it
          names an offset the partition's log does not hold, so the log was
          reset (topic deleted and created again, or another cluster behind
          the same address): the high-water starts again from -1 instead of
          skipping the new log's messages as redeliveries
  ARGV[8] the consumer group that reads the stream ("" = none, the dead-letter
          stream): XADD's MAXLEN trims the oldest entries whether the group
          read them or not, so when the entries the group has not acknowledged
          (pending + lag) and this chunk's new items would not all fit in
          MAXLEN, nothing is written and the call answers "FULL ...": the
          bridge waits (its Kafka offsets stay uncommitted) until the group
          has caught up, instead of trimming what it has not processed. A
          stream that reaches MAXLEN before the group exists gets it (at 0)
  ARGV[9..] items, offsets increasing, each a kind then its values:
    "e" event:       offset, data, message key, traceparent ("" = none)       (5 values)
    "d" dead letter: offset, raw, reason, encoding, size, sha256, key,
                     key_encoding ("" = the message had no key)             (9 values)
    "g" gap:         last offset of the gap, first offset, count             (4 values)

  Output: { appended, skipped, gaps appended, high-water, 1 when the log was reset else 0 }
          error "GAP ..." when the previous chunk was not applied
          error "FULL ..." when the group has too much left to process (ARGV[8])
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
local reset = 0
if ARGV[6] == '' and ARGV[7] ~= '' and hw >= tonumber(ARGV[7]) then
  hw = -1
  reset = 1
end

local last = hw
local appended = 0
local skipped = 0
local gaps = 0
local i = 9

-- Backpressure: what the group has not acknowledged yet, plus this chunk's new items, must fit.
-- Items of a stream with a group are events (5 values each); a stream that can take them all
-- without trimming needs no look at the group (XLEN is O(1), XINFO GROUPS a little more).
local length = ARGV[8] ~= '' and redis.pcall('XLEN', KEYS[2])
if type(length) == 'number' and length + (#ARGV - 8) / 5 > tonumber(maxlen) then
  -- group_left: shared/lua/group_left.lua, prepended to this script.
  local left = group_left(KEYS[2], ARGV[8], length)
  if not left then
    -- No group yet (the bridge ran before the detector ever started): made here at the stream's
    -- start, as the detector makes it, so nothing is trimmed before the detector first reads.
    redis.call('XGROUP', 'CREATE', KEYS[2], ARGV[8], '0')
    left = length
  end
  if left > 0 then
    local new = 0
    for j = 10, #ARGV, 5 do
      if tonumber(ARGV[j]) > hw then new = new + 1 end
    end
    if new > 0 and left + new > tonumber(maxlen) then
      return redis.error_reply('FULL ' .. KEYS[2] .. ': ' .. left ..
        ' entries not yet processed by consumer group ' .. ARGV[8] .. ' (MAXLEN ' .. maxlen ..
        '): waiting for it to catch up')
    end
  end
end

-- The high-water after what was appended (also before a failed XADD): moved
-- forward, or, for a log that started again and got nothing yet, removed.
local function record_high_water()
  if last > hw then
    redis.call('HSET', KEYS[1], field, string.format('%d', last))
  elseif reset == 1 then
    redis.call('HDEL', KEYS[1], field)
  end
end
while i <= #ARGV do
  local kind = ARGV[i]
  local offset = ARGV[i + 1]
  local n = tonumber(offset)
  local stride = 5
  if kind == 'd' then stride = 9 elseif kind == 'g' then stride = 4 end
  if n <= last then
    skipped = skipped + 1
  else
    local r
    if kind == 'e' then
      if ARGV[i + 4] ~= '' then
        r = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*',
          'data', ARGV[i + 2], 'topic', topic, 'partition', partition, 'offset', offset,
          'key', ARGV[i + 3], 'ingest_ts', ts, 'traceparent', ARGV[i + 4])
      else
        r = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*',
          'data', ARGV[i + 2], 'topic', topic, 'partition', partition, 'offset', offset,
          'key', ARGV[i + 3], 'ingest_ts', ts)
      end
    elseif kind == 'd' then
      if ARGV[i + 8] ~= '' then
        r = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*',
          'source', 'bridge', 'reason', ARGV[i + 3], 'raw', ARGV[i + 2], 'encoding', ARGV[i + 4],
          'size', ARGV[i + 5], 'sha256', ARGV[i + 6], 'key', ARGV[i + 7], 'key_encoding', ARGV[i + 8],
          'topic', topic, 'partition', partition, 'offset', offset, 'ts', ts)
      else
        r = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*',
          'source', 'bridge', 'reason', ARGV[i + 3], 'raw', ARGV[i + 2], 'encoding', ARGV[i + 4],
          'size', ARGV[i + 5], 'sha256', ARGV[i + 6],
          'topic', topic, 'partition', partition, 'offset', offset, 'ts', ts)
      end
    else
      local from = ARGV[i + 2]
      r = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*',
        'source', 'bridge',
        'reason', 'gap: offsets ' .. from .. '..' .. offset .. ' (' .. ARGV[i + 3] ..
          ' messages) were deleted by Kafka before the bridge read them',
        'raw', '', 'encoding', 'utf8',
        'topic', topic, 'partition', partition, 'offset', from,
        'from', from, 'to', offset, 'count', ARGV[i + 3], 'ts', ts)
      if not (type(r) == 'table' and r.err) then gaps = gaps + 1 end
    end
    if type(r) == 'table' and r.err then
      record_high_water()
      return redis.error_reply('APPEND failed at offset ' .. offset .. ': ' .. r.err)
    end
    if kind ~= 'g' then appended = appended + 1 end
    last = n
  end
  i = i + stride
end

record_high_water()
return { appended, skipped, gaps, string.format('%d', last), reset }
