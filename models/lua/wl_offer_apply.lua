-- After the database committed a step of waitlist offers: make Redis agree. Each offer is a
-- hold, counted as the decide script counts one (stock - q, held + q, the fan's count + q), and
-- its fan leaves the tier's waiting count.
--
-- KEYS[1]  hash  <prefix>ev:{e}:stock  tier -> available, "held:"..tier -> held   (HINCRBY)
-- KEYS[2]  hash  <prefix>ev:{e}:users  user -> tickets in live holds + paid       (HINCRBY)
-- KEYS[3]  hash  <prefix>ev:{e}:live   user -> live reservation id                (HSET)
-- KEYS[4]  hash  <prefix>ev:{e}:wl     tier -> fans waiting, tier:q -> for q tickets (HINCRBY, HDEL)
-- KEYS[5+] hash  <prefix>res:<id>      the offers' records                        (EXISTS, HSET, EXPIRE)
-- ARGV: 1 ttl of a record (s), then 7 per offer: id, event, tier, user, quantity, expires_at,
--       expires_ms
--
-- Called once, by the drainer whose transaction made the offers (under the event lease); an
-- offer whose record already exists was applied before and is skipped. Counters are only moved
-- while the stock hash exists (else the next rebuild reads the database).

local has_stock = redis.call('EXISTS', KEYS[1]) == 1
for n = 1, #KEYS - 4 do
  local a = 2 + 7 * (n - 1)
  local key = KEYS[4 + n]
  local id, tier, user, q = ARGV[a], ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4])
  if redis.call('EXISTS', key) == 0 then
    if has_stock then
      redis.call('HINCRBY', KEYS[1], tier, -q)
      redis.call('HINCRBY', KEYS[1], 'held:' .. tier, q)
      redis.call('HINCRBY', KEYS[2], user, q)
    end
    if redis.call('HINCRBY', KEYS[4], tier, -1) <= 0 then
      redis.call('HDEL', KEYS[4], tier)
    end
    if redis.call('HINCRBY', KEYS[4], tier .. ':' .. q, -1) <= 0 then
      redis.call('HDEL', KEYS[4], tier .. ':' .. q)
    end
    redis.call('HSET', key, 'id', id, 'event_id', ARGV[a + 1], 'tier_id', tier, 'user_id', user,
      'quantity', ARGV[a + 4], 'status', 'held', 'expires_at', ARGV[a + 5], 'expires_ms', ARGV[a + 6],
      'reason', '')
    redis.call('EXPIRE', key, ARGV[1])
    -- The fan had no live reservation when offered; a request queued since is rejected by the
    -- decide script (already_reserved), as the slot now names the offer.
    redis.call('HSET', KEYS[3], user, id)
  end
end
return 1
