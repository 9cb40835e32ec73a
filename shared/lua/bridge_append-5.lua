--[[
  Append one chunk of a Kafka partition batch to the event streams and the
  dead-letter stream, exactly once: messages at or below the partition's
  stored high-water offset are skipped, and the high-water offset moves in
  the same script, so a redelivered batch never duplicates an entry.

  Gaps: the first chunk of a batch names the lowest offset the batch
  accounts for (cover-from: the first record Kafka returned, control records
  included). Above high-water + 1, the offsets in between were never read;
  the caller then passes the partition's log start offset as read from
  Kafka, and the part of the hole below it (deleted by retention) is
  recorded once as a dead-letter entry with reason `gap` and from/to/count,
  and the high-water moves past it. The part at or above the log start is
  not loss (transaction markers, aborted or compacted records) and is
  passed over silently.

  Input:
    KEYS[1] offsets hash (field "topic:partition" -> last offset appended
            or recorded as a gap)
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
    ARGV[7] cover-from ("" for chunks after the first)
    ARGV[8] log start offset of the partition, "" when not read
    ARGV[9..] per message, offsets increasing, its offset and key index, then
            event (index 3..5), 5 values in all:
              offset, index, data, message key, traceparent ("" = none)
            dead letter (index 2), 9 values in all:
              offset, 2, raw, reason, encoding, size, sha256, key, key_encoding
              (key_encoding "" = the message had no key)

  Output:
    { appended, skipped, high-water offset, gap from, gap to } (gap "" = none)
    error "GAP ..." when the previous chunk was not applied
    error "HOLE <high-water>" when cover-from is above high-water + 1 and
          ARGV[8] is "" (nothing written: read the log start and call again)
    error "APPEND ..." when an XADD failed (the high-water then covers
          exactly the entries appended before it, and a gap recorded)
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

local last = hw
local gap_from = ''
local gap_to = ''
if ARGV[7] ~= '' and stored then
  local cover = tonumber(ARGV[7])
  if cover > hw + 1 then
    if ARGV[8] == '' then
      return redis.error_reply('HOLE ' .. string.format('%d', hw))
    end
    local lost_to = math.min(cover, tonumber(ARGV[8])) - 1
    if lost_to > hw then
      gap_from = string.format('%d', hw + 1)
      gap_to = string.format('%d', lost_to)
      local count = string.format('%d', lost_to - hw)
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxlen, '*',
        'source', 'bridge',
        'reason', 'gap: offsets ' .. gap_from .. '..' .. gap_to .. ' (' .. count ..
          ' messages) were deleted by Kafka before the bridge read them',
        'raw', '', 'encoding', 'utf8',
        'topic', topic, 'partition', partition, 'offset', gap_from,
        'from', gap_from, 'to', gap_to, 'count', count, 'ts', ts)
      last = lost_to
    end
  end
end

local appended = 0
local skipped = 0
local i = 9
while i <= #ARGV do
  local offset = ARGV[i]
  local n = tonumber(offset)
  local index = tonumber(ARGV[i + 1])
  local stride = 5
  if index == 2 then stride = 9 end
  if n <= last then
    skipped = skipped + 1
  else
    local r
    if index == 2 then
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
  i = i + stride
end

if last > hw then redis.call('HSET', KEYS[1], field, string.format('%d', last)) end
return { appended, skipped, string.format('%d', last), gap_from, gap_to }
