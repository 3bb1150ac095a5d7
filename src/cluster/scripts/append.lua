-- Appends a fetched batch to the partition streams and moves the offset past
-- it, for the poller's tenure only: a poller whose lease lapsed (paused,
-- partitioned) is refused, and the batch will be fetched again by the holder.
-- KEYS[1] the poller lease, KEYS[2] the offset, KEYS[3..] the partition streams of this batch
-- ARGV[1] the poller's token, ARGV[2] the next offset, then pairs: stream index (into KEYS, from 3), update (JSON)
-- Returns the number of entries added, or an error STALE_EPOCH.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return redis.error_reply('STALE_EPOCH the poller lease is held by another tenure')
end
local added = 0
for i = 3, #ARGV, 2 do
    redis.call('XADD', KEYS[tonumber(ARGV[i])], '*', 'u', ARGV[i + 1])
    added = added + 1
end
redis.call('SET', KEYS[2], ARGV[2])
return added
