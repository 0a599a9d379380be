-- Record that the fan at ARGV[1] reserved (idempotent): counts it once as used, and takes it
-- back out of the expired count if the expiry step already counted it.
-- KEYS[1] room hash  (fields used, expired, exp_pos)
-- KEYS[2] used bitmap (bit <position>)
-- ARGV[1] position
-- Touches: KEYS[1], KEYS[2]
-- Returns 1 the first time, 0 after
local room, used, position = KEYS[1], KEYS[2], tonumber(ARGV[1])
if redis.call('SETBIT', used, position, 1) == 1 then
  return 0
end
redis.call('HINCRBY', room, 'used', 1)
if position <= (tonumber(redis.call('HGET', room, 'exp_pos')) or 0) then
  redis.call('HINCRBY', room, 'expired', -1)
end
return 1
