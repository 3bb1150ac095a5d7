-- Takes a fenced lease, or renews it for its holder.
-- KEYS[1] the lease, KEYS[2] its epoch counter
-- ARGV[1] the node asking, ARGV[2] the lease's time to live (ms)
-- Returns the holder's token "<node>:<epoch>" if ARGV[1] holds it now, else false.
-- The epoch only grows (INCR), so a token names one tenure: a holder that lost
-- the lease and took it again has a new token, and its old one is refused.
local held = redis.call('GET', KEYS[1])
if held then
    if string.sub(held, 1, #ARGV[1] + 1) == ARGV[1] .. ':' then
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return held
    end
    return false
end
local token = ARGV[1] .. ':' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token
