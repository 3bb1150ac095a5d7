-- Extends the leases of messages a node is still sending (a slow call must
-- not be taken for a dead node's), for the tokens that still hold them.
-- KEYS[1] the bot's key prefix
-- ARGV[1] lease (ms), then pairs: message id, fence token
-- Returns how many leases were extended.
local p = KEYS[1]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local expires = now + tonumber(ARGV[1])
local renewed = 0
for i = 2, #ARGV, 2 do
    if redis.call('HGET', p .. 'm:' .. ARGV[i], 'lease') == ARGV[i + 1] then
        redis.call('ZADD', p .. 'leases', 'XX', expires, ARGV[i])
        redis.call('ZADD', p .. 'window', 'XX', expires, ARGV[i + 1])
        renewed = renewed + 1
    end
end
return renewed
