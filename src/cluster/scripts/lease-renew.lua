-- Renews a lease for the tenure that holds it.
-- KEYS[1] the lease; ARGV[1] the holder's token, ARGV[2] the time to live (ms)
-- Returns 1 if renewed, 0 if the lease lapsed or belongs to another tenure.
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
return 0
