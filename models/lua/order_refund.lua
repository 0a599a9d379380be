-- A paid order was refunded in the database: its tickets go back to Redis's stock gate and
-- leave the fan's per-event count.
--
-- KEYS[1] hash  <prefix>ev:{e}:stock  tier -> available   (HINCRBY)
-- KEYS[2] hash  <prefix>ev:{e}:users  user -> tickets     (HINCRBY, HDEL)
-- ARGV: 1 tier id, 2 user, 3 quantity
--
-- Run once per refund (by the caller whose conditional UPDATE refunded it). Nothing is written
-- when the counters are missing: the next rebuild reads the database.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local q = tonumber(ARGV[3])
redis.call('HINCRBY', KEYS[1], ARGV[1], q)
if redis.call('HINCRBY', KEYS[2], ARGV[2], -q) <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[2])
end
return 1
