-- Admits one call that bypasses the queue (a file upload) against the bot's
-- and the chat's buckets, for all nodes: counts it if they admit it now.
-- Its answer is not reported, so it holds its place in the bot's window for
-- the given time (ms) instead.
-- KEYS[1] the bot's key prefix
-- ARGV[1] chat, ARGV[2] global interval (ms), ARGV[3] window limit, ARGV[4] chat interval (ms),
-- ARGV[5] timer slack (ms), ARGV[6] how long it counts in the window (ms)
-- Returns 0 if admitted, else ms to wait.
local p = KEYS[1]
local chat = ARGV[1]
local globalInterval, limit, chatInterval = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local slack, holdMs = tonumber(ARGV[5]), tonumber(ARGV[6])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
redis.call('ZREMRANGEBYSCORE', p .. 'window', '-inf', now)
local globalTat = tonumber(redis.call('GET', p .. 'tat:g') or '0')
local chatTat = tonumber(redis.call('GET', p .. 'tat:c:' .. chat) or '0')
local wait = math.max(globalTat, chatTat) - slack - now
local held = redis.call('ZCARD', p .. 'window')
if held >= limit then
    local freed = redis.call('ZRANGE', p .. 'window', held - limit, held - limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(freed[2]) - now)
end
if wait > 0 then return math.ceil(wait) end
local function consume(key, tat, interval)
    local next = math.max(tat, now) + interval
    redis.call('SET', key, tostring(next), 'PX', math.ceil(next - now) + 1000)
end
consume(p .. 'tat:g', globalTat, globalInterval)
consume(p .. 'tat:c:' .. chat, chatTat, chatInterval)
redis.call('ZADD', p .. 'window', now + holdMs, 'a:' .. redis.call('INCR', p .. 'fence'))
return 0
