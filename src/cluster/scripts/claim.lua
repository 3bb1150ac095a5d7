-- Takes over the entries a partition's previous owner had read and not
-- acknowledged, oldest first, for the new owner's tenure only. An entry
-- delivered more than the allowed number of times goes to the dead-letter
-- stream instead (it keeps killing whoever handles it).
-- KEYS[1] the partition lease, KEYS[2] the stream, KEYS[3] the dead-letter stream
-- ARGV[1] the owner's token, ARGV[2] the group, ARGV[3] the consumer (this node), ARGV[4] max deliveries, ARGV[5] partition
-- Returns the claimed entries as a flat list: id, update (JSON), id, update, …; or an error STALE_EPOCH.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return redis.error_reply('STALE_EPOCH the partition lease is held by another tenure')
end
local out = {}
local cursor = '0-0'
repeat
    local claimed = redis.call('XAUTOCLAIM', KEYS[2], ARGV[2], ARGV[3], 0, cursor, 'COUNT', 100)
    cursor = claimed[1]
    for _, entry in ipairs(claimed[2]) do
        local id = entry[1]
        local fields = entry[2]
        local pending = redis.call('XPENDING', KEYS[2], ARGV[2], id, id, 1)
        local deliveries = pending[1] and tonumber(pending[1][4]) or 1
        if deliveries > tonumber(ARGV[4]) then
            redis.call('XADD', KEYS[3], '*', 'u', fields[2], 'partition', ARGV[5], 'deliveries', deliveries - 1)
            redis.call('XACK', KEYS[2], ARGV[2], id)
            redis.call('XDEL', KEYS[2], id)
        else
            out[#out + 1] = id
            out[#out + 1] = fields[2]
        end
    end
until cursor == '0-0'
return out
