-- Change a tier's count of waiting fans (a join +1, a leave -1), and its count of fans waiting
-- for that many tickets, dropping fields at zero so the hash lists only tiers with a waitlist.
--
-- KEYS[1] hash  <prefix>ev:{e}:wl  tier -> fans waiting, tier..":"..q -> fans waiting for q tickets
--                                  (HINCRBY, HDEL)
-- ARGV: 1 tier id, 2 delta, 3 the entry's quantity
-- Returns the tier's new count.

local per_size = ARGV[1] .. ':' .. ARGV[3]
if redis.call('HINCRBY', KEYS[1], per_size, ARGV[2]) <= 0 then
  redis.call('HDEL', KEYS[1], per_size)
end
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
return n
