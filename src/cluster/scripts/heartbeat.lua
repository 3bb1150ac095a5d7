-- Marks a node alive and returns the live nodes, by the Redis server's clock
-- (never the nodes' own: they may disagree).
-- KEYS[1] the sorted set of nodes by last heartbeat (ms)
-- ARGV[1] this node ('' to only read), ARGV[2] how long a silent node counts as alive (ms)
-- Returns the ids of the live nodes.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if ARGV[1] ~= '' then redis.call('ZADD', KEYS[1], now, ARGV[1]) end
return redis.call('ZRANGE', KEYS[1], 0, -1)
