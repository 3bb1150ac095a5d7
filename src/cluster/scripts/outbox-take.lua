-- Leases the next messages a node may send now, for all nodes of a bot at
-- once: expired leases are returned to their chats' heads first, then chat
-- heads are taken from the ready sets in the 5:3:1 rotation of priority
-- classes, each only when its chat's bucket and the bot's admit it.
-- The bot's admission has two parts, both on the Redis server's clock:
-- a GCRA bucket (tat:g) spaces sends at the global rate, and the window
-- (a sorted set of fence tokens) holds every send in flight (until its lease
-- expires) or answered within the last second: a send is admitted only while
-- it holds fewer than the limit. Whatever each node's delay between lease
-- and arrival, no second at the server can then see more than the limit
-- (docs/ARCHITECTURE.md, "The outbox in Redis").
-- KEYS[1] the bot's key prefix
-- ARGV[1] lease (ms), ARGV[2] most messages to take, ARGV[3] global interval (ms), ARGV[4] window limit,
-- ARGV[5] private chat interval (ms), ARGV[6] group interval (ms), ARGV[7] timer slack (ms), ARGV[8] heads looked at per class
-- Returns: wait (ms until something may be ready; 0 if it may be now), then per message:
-- id, fence token, method, payload, chat id to send to, attempts
local p = KEYS[1]
local leaseMs, most = tonumber(ARGV[1]), tonumber(ARGV[2])
local globalInterval, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local privateInterval, groupInterval = tonumber(ARGV[5]), tonumber(ARGV[6])
local slack, scan = tonumber(ARGV[7]), tonumber(ARGV[8])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local ROTATION = { 0, 0, 0, 0, 0, 1, 1, 1, 2 }

-- A node that died (or stalled) while sending: its messages go back to their chats' heads.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. 'leases', '-inf', now)) do
    local message = p .. 'm:' .. id
    local chat, priority = unpack(redis.call('HMGET', message, 'chat', 'prio'))
    redis.call('HDEL', message, 'lease')
    redis.call('ZREM', p .. 'leases', id)
    if chat then redis.call('ZADD', p .. 'ready:' .. priority, now, chat) end
end
redis.call('ZREMRANGEBYSCORE', p .. 'window', '-inf', now)

local function number(key)
    return tonumber(redis.call('GET', key) or '0')
end

local function globalWait()
    local wait = number(p .. 'tat:g') - slack - now
    local held = redis.call('ZCARD', p .. 'window')
    if held >= limit then
        local freed = redis.call('ZRANGE', p .. 'window', held - limit, held - limit, 'WITHSCORES')
        wait = math.max(wait, tonumber(freed[2]) - now)
    end
    return math.max(0, wait)
end

local function chatInterval(chat)
    if string.match(chat, '^%d+$') then return privateInterval end
    return groupInterval
end

local function consume(key, interval)
    local tat = math.max(number(key), now) + interval
    redis.call('SET', key, tostring(tat), 'PX', math.ceil(tat - now) + 1000)
end

local out = { 0 }
local taken = 0
local blocked = false
while taken < most and not blocked do
    if globalWait() > 0 then break end
    local turn = redis.call('INCR', p .. 'rotation')
    local found = false
    local tried = {}
    for step = 0, #ROTATION - 1 do
        local class = ROTATION[((turn + step) % #ROTATION) + 1]
        if not tried[class] then
            tried[class] = true
            local ready = p .. 'ready:' .. class
            for _, chat in ipairs(redis.call('ZRANGEBYSCORE', ready, '-inf', now, 'LIMIT', 0, scan)) do
                local chatTat = p .. 'tat:c:' .. chat
                local chatWait = number(chatTat) - slack - now
                local id = redis.call('LINDEX', p .. 'q:' .. chat, 0)
                if not id then
                    redis.call('ZREM', ready, chat)
                elseif chatWait > 0 then
                    -- Its chat's bucket holds it back: ready again when it admits.
                    redis.call('ZADD', ready, now + chatWait, chat)
                else
                    local message = p .. 'm:' .. id
                    local token = tostring(redis.call('INCR', p .. 'fence'))
                    redis.call('HSET', message, 'lease', token)
                    local attempts = redis.call('HINCRBY', message, 'att', 1)
                    redis.call('ZADD', p .. 'leases', now + leaseMs, id)
                    redis.call('ZADD', p .. 'window', now + leaseMs, token)
                    redis.call('ZREM', ready, chat)
                    consume(p .. 'tat:g', globalInterval)
                    consume(chatTat, chatInterval(chat))
                    local method, payload, to = unpack(redis.call('HMGET', message, 'method', 'payload', 'to'))
                    out[#out + 1] = id
                    out[#out + 1] = token
                    out[#out + 1] = method
                    out[#out + 1] = payload
                    out[#out + 1] = to or chat
                    out[#out + 1] = attempts
                    taken = taken + 1
                    found = true
                    break
                end
            end
        end
        if found then break end
    end
    if not found then blocked = true end
end

if taken < most then
    -- When to look again: the earliest ready head, held back by the bot's bucket if it is ready now.
    local wait = math.huge
    for class = 0, 2 do
        local first = redis.call('ZRANGE', p .. 'ready:' .. class, 0, 0, 'WITHSCORES')
        if first[2] then wait = math.min(wait, math.max(0, tonumber(first[2]) - now)) end
    end
    if wait < math.huge then wait = math.max(wait, globalWait()) end
    local lease = redis.call('ZRANGE', p .. 'leases', 0, 0, 'WITHSCORES')
    if lease[2] then wait = math.min(wait, math.max(0, tonumber(lease[2]) - now)) end
    if wait == math.huge then wait = -1 end
    out[1] = math.ceil(wait)
end
return out
