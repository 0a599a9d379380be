-- Record that the fans at ARGV[1..n] reserved (idempotent): counts each once as used, and takes
-- it back out of the expired count if the expiry step already counted it. The drainer marks a
-- whole batch's positions in one call.
-- KEYS[1] room hash  (fields used, expired, exp_pos)
-- KEYS[2] used bitmap (bit <position>)
-- ARGV[1..n] positions
-- Touches: KEYS[1], KEYS[2]
-- Returns how many positions were marked for the first time
local room, used = KEYS[1], KEYS[2]
local exp_pos = tonumber(redis.call('HGET', room, 'exp_pos')) or 0
local fresh, expired = 0, 0
for i = 1, #ARGV do
  local position = tonumber(ARGV[i])
  if redis.call('SETBIT', used, position, 1) == 0 then
    fresh = fresh + 1
    if position <= exp_pos then
      expired = expired + 1
    end
  end
end
if fresh > 0 then
  redis.call('HINCRBY', room, 'used', fresh)
end
if expired > 0 then
  redis.call('HINCRBY', room, 'expired', -expired)
end
return fresh
