-- Admit one wave: positions ARGV[1]+1 .. ARGV[2]. Compare-and-set on up_to, so a tick that
-- runs twice (or on two schedulers) admits each position once.
-- KEYS[1] room hash  (fields up_to, next_due)
-- KEYS[2] waves zset (score last position, member "first:last:admitted_at_ms:capacity")
-- ARGV[1] up_to the caller saw
-- ARGV[2] new up_to
-- ARGV[3] now, in ms
-- ARGV[4] when the next wave is due, in ms
-- ARGV[5] the wave's capacity (positions it could have admitted; measures the admission rate)
-- ARGV[6] expire-at for the waves key, in ms (unix)
-- Touches: KEYS[1], KEYS[2]
-- Returns {1, new up_to} if admitted, {0, current up_to} if someone else moved it
local room, waves = KEYS[1], KEYS[2]
local current = tonumber(redis.call('HGET', room, 'up_to')) or 0
if current ~= tonumber(ARGV[1]) then
  return {0, current}
end
redis.call('HSET', room, 'up_to', ARGV[2], 'next_due', ARGV[4])
redis.call('ZADD', waves, ARGV[2], (current + 1) .. ':' .. ARGV[2] .. ':' .. ARGV[3] .. ':' .. ARGV[5])
redis.call('PEXPIREAT', waves, ARGV[6])
return {1, tonumber(ARGV[2])}
