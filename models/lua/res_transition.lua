-- Move a reservation out of "held" in Redis after the database did (release, expiry, conversion).
--
-- KEYS[1] hash  <prefix>ev:{e}:stock  tier -> available, "held:"..tier -> held  (HINCRBY, HSET)
-- KEYS[2] hash  <prefix>ev:{e}:users  user -> tickets in live holds + paid      (HINCRBY, HDEL)
-- KEYS[3] hash  <prefix>ev:{e}:live   user -> live reservation id               (HGET, HDEL)
-- KEYS[4] hash  <prefix>res:<id>      the record                                (HGET, HSET, EXPIRE)
-- ARGV: 1 id, 2 tier, 3 user, 4 quantity, 5 new status (released|expired|converted), 6 reason,
--       7 ttl of the record (s)
--
-- Returns 1 if the counters moved. 0 when the record is still "pending" (the drainer that granted
-- the hold has not committed its view yet; its commit reconciles from the database) or already
-- moved on. A record lost with Redis counts as held: the counters it finds (rebuilt from the
-- database before this release) still include the hold.

local st = redis.call('HGET', KEYS[4], 'status')
if st and st ~= 'held' then
  return 0
end

local q, tier, user, to = tonumber(ARGV[4]), ARGV[2], ARGV[3], ARGV[5]
if redis.call('EXISTS', KEYS[1]) == 1 then
  if to ~= 'converted' then
    redis.call('HINCRBY', KEYS[1], tier, q)
    if redis.call('HINCRBY', KEYS[2], user, -q) <= 0 then redis.call('HDEL', KEYS[2], user) end
  end
  if redis.call('HINCRBY', KEYS[1], 'held:' .. tier, -q) < 0 then
    redis.call('HSET', KEYS[1], 'held:' .. tier, 0)
  end
end
if redis.call('HGET', KEYS[3], user) == ARGV[1] then
  redis.call('HDEL', KEYS[3], user)
end
if st then
  redis.call('HSET', KEYS[4], 'status', to, 'reason', ARGV[6])
  redis.call('EXPIRE', KEYS[4], ARGV[7])
end
return 1
