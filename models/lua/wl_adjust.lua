-- Change a tier's count of waiting fans (a join +1, a leave -1), dropping the field at zero so
-- the hash lists only tiers with a waitlist.
--
-- KEYS[1] hash  <prefix>ev:{e}:wl  tier -> fans waiting  (HINCRBY, HDEL)
-- ARGV: 1 tier id, 2 delta
-- Returns the new count.

local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
return n
