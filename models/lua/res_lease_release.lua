-- Release the event lease if it is still ours; optionally restamp the drain flag (a hand-over to
-- the next drain message: the flag stays set and looks fresh, so no request sends a duplicate).
--
-- KEYS[1] string  <prefix>ev:{e}:lease  (GET, DEL)
-- KEYS[2] string  <prefix>ev:{e}:drain  (SET PX, only when ARGV[2] > 0 and the flag exists)
-- ARGV: 1 lease token, 2 drain flag ttl in ms (0 = leave the flag alone)
--
-- Returns 1 if the lease was ours and is now released, else 0.

if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
if tonumber(ARGV[2]) > 0 and redis.call('EXISTS', KEYS[2]) == 1 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), 'PX', ARGV[2])
end
return 1
