-- Adds messages to a bot's outbox in Redis, each at the tail of its chat's
-- queue; a chat whose queue was empty becomes ready at the message's
-- notBefore. A repeated idempotency key answers the first message's id.
-- KEYS[1] the bot's key prefix ({sluice:<name>}:b:<bot>:); every key below
-- starts with it, so all live in one hash slot.
-- ARGV groups of six: chat, method, payload (JSON), priority class, notBefore (ms), idempotency key ('' for none)
-- Returns a flat list: id, duplicate (0 or 1), id, duplicate, …
local p = KEYS[1]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local out = {}
local added = false
for i = 1, #ARGV, 6 do
    local chat, method, payload, priority, notBefore, key = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]), ARGV[i + 5]
    local existing = key ~= '' and redis.call('GET', p .. 'k:' .. key)
    if existing then
        out[#out + 1] = tonumber(existing)
        out[#out + 1] = 1
    else
        -- A group that became a supergroup: later messages follow its queue.
        local movedTo = redis.call('HGET', p .. 'migrated', chat)
        local to = nil
        if movedTo then
            chat = movedTo
            to = movedTo
        end
        local id = redis.call('INCR', p .. 'seq')
        local message = p .. 'm:' .. id
        redis.call('HSET', message, 'chat', chat, 'method', method, 'payload', payload, 'prio', priority, 'nb', notBefore,
            'state', 'queued', 'att', 0, 'at', now)
        if to then redis.call('HSET', message, 'to', to) end
        if key ~= '' then
            redis.call('HSET', message, 'key', key)
            redis.call('SET', p .. 'k:' .. key, id)
        end
        if redis.call('RPUSH', p .. 'q:' .. chat, id) == 1 then
            redis.call('ZADD', p .. 'ready:' .. priority, math.max(notBefore, now), chat)
        end
        redis.call('HINCRBY', p .. 'depth', priority, 1)
        added = true
        out[#out + 1] = id
        out[#out + 1] = 0
    end
end
if added then redis.call('PUBLISH', p .. 'wake', '') end
return out
