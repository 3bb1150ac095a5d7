-- Records how a node's send of a leased message ended, for the lease's
-- holder only (an ack with another fence token is refused: the lease had
-- expired and the message went back to its chat, maybe to another node).
-- KEYS[1] the bot's key prefix
-- ARGV[1] message id, ARGV[2] fence token, ARGV[3] outcome, ARGV[4] its value:
--   sent      Telegram's result (JSON)
--   dead      the failure (JSON)
--   retry     ms to wait before the next attempt
--   flood     retry_after (s): the chat's and the bot's buckets wait it out, for every node
--   migrated  the chat's new id: the chat's whole queue moves there, in order
--   release   (none) back to the head of its chat, not counted as an attempt (a closing node)
-- ARGV[5] how long a sent message and its idempotency key are kept (ms),
-- ARGV[6] private chat interval (ms), ARGV[7] group interval (ms),
-- ARGV[8] how long ago (ms, by the node's monotonic clock) the answer reached the node
-- Returns 1, or 0 if the token no longer holds the lease.
local p = KEYS[1]
local id, token, outcome, value = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local keepMs = tonumber(ARGV[5])
local message = p .. 'm:' .. id
if redis.call('HGET', message, 'lease') ~= token then return 0 end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
-- When the node had the answer, on this clock: no later than now, and no earlier than the server sent it.
local answered = now - tonumber(ARGV[8])
local chat, priority, key = unpack(redis.call('HMGET', message, 'chat', 'prio', 'key'))
redis.call('HDEL', message, 'lease')
redis.call('ZREM', p .. 'leases', id)
-- It reached Telegram before its answer came back, and counts in the bot's window for one second after that.
redis.call('ZADD', p .. 'window', 'XX', answered + 1000, token)

local function pushTat(tatKey, at)
    local tat = math.max(tonumber(redis.call('GET', tatKey) or '0'), at)
    redis.call('SET', tatKey, tostring(tat), 'PX', math.ceil(tat - now) + 1000)
end

local function ready(forChat, at)
    local head = redis.call('LINDEX', p .. 'q:' .. forChat, 0)
    if not head then return end
    local headPriority, notBefore = unpack(redis.call('HMGET', p .. 'm:' .. head, 'prio', 'nb'))
    redis.call('ZADD', p .. 'ready:' .. headPriority, math.max(at, tonumber(notBefore)), forChat)
end

local function ended(state, field)
    redis.call('HSET', message, 'state', state, field, value, 'ended', now)
    redis.call('LPOP', p .. 'q:' .. chat)
    redis.call('HINCRBY', p .. 'depth', priority, -1)
    redis.call('PUBLISH', p .. 'done', id .. ' ' .. state .. ' ' .. value)
    ready(chat, now)
end

if outcome ~= 'release' then
    -- The chat's next send is spaced from this answer, not from when this one was let go.
    local interval = tonumber(string.match(chat, '^%d+$') and ARGV[6] or ARGV[7])
    pushTat(p .. 'tat:c:' .. chat, answered + interval)
end

if outcome == 'sent' then
    ended('sent', 'result')
    redis.call('PEXPIRE', message, keepMs)
    if key then redis.call('PEXPIRE', p .. 'k:' .. key, keepMs) end
elseif outcome == 'dead' then
    ended('dead', 'error')
    redis.call('RPUSH', p .. 'dead', id)
elseif outcome == 'retry' then
    redis.call('ZADD', p .. 'ready:' .. priority, now + tonumber(value), chat)
elseif outcome == 'flood' then
    local until_ = now + tonumber(value) * 1000
    pushTat(p .. 'tat:c:' .. chat, until_)
    pushTat(p .. 'tat:g', until_)
    redis.call('HINCRBY', message, 'att', -1)
    redis.call('ZADD', p .. 'ready:' .. priority, until_, chat)
elseif outcome == 'migrated' then
    redis.call('HINCRBY', message, 'att', -1)
    local ids = redis.call('LRANGE', p .. 'q:' .. chat, 0, -1)
    for _, moved in ipairs(ids) do redis.call('HSET', p .. 'm:' .. moved, 'chat', value, 'to', value) end
    for i = #ids, 1, -1 do redis.call('LPUSH', p .. 'q:' .. value, ids[i]) end
    redis.call('DEL', p .. 'q:' .. chat)
    for class = 0, 2 do redis.call('ZREM', p .. 'ready:' .. class, chat) end
    redis.call('HSET', p .. 'migrated', chat, value)
    ready(value, now)
else
    redis.call('HINCRBY', message, 'att', -1)
    redis.call('ZADD', p .. 'ready:' .. priority, now, chat)
end
redis.call('PUBLISH', p .. 'wake', '')
return 1
