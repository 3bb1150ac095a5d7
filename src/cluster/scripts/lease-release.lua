-- Gives a lease up, if this tenure still holds it.
-- KEYS[1] the lease; ARGV[1] the holder's token
-- Returns 1 if released, 0 if it was no longer held by that tenure.
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return 1
end
return 0
