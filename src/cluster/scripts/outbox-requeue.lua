-- Sends a dead letter again: it leaves the dead letters and joins the tail of
-- its chat's queue (not the head: the head may be leased by a node right now,
-- and the messages after it may have been sent meanwhile), attempts from zero.
-- KEYS[1] the bot's key prefix
-- ARGV[1] message id
-- Returns 1, or 0 if it is not a dead letter.
local p = KEYS[1]
local id = ARGV[1]
local message = p .. 'm:' .. id
if redis.call('HGET', message, 'state') ~= 'dead' then return 0 end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local chat, priority = unpack(redis.call('HMGET', message, 'chat', 'prio'))
redis.call('LREM', p .. 'dead', 1, id)
redis.call('HDEL', message, 'error', 'ended')
redis.call('HSET', message, 'state', 'queued', 'att', 0, 'nb', now)
if redis.call('RPUSH', p .. 'q:' .. chat, id) == 1 then
    redis.call('ZADD', p .. 'ready:' .. priority, now, chat)
end
redis.call('HINCRBY', p .. 'depth', priority, 1)
redis.call('PUBLISH', p .. 'wake', '')
return 1
