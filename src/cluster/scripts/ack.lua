-- Acknowledges handled entries of a partition stream, for the partition
-- owner's tenure only, and deletes them (a stream holds only what is unfinished).
-- KEYS[1] the partition lease, KEYS[2] the stream
-- ARGV[1] the owner's token, ARGV[2] the consumer group, ARGV[3..] entry ids
-- Returns the number acknowledged, or an error STALE_EPOCH.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return redis.error_reply('STALE_EPOCH the partition lease is held by another tenure')
end
local ids = {}
for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
local acked = redis.call('XACK', KEYS[2], ARGV[2], unpack(ids))
redis.call('XDEL', KEYS[2], unpack(ids))
return acked
