-- Look up a token's place and, if admitted, the wave that admitted it (for check_admission).
-- KEYS[1] bucket hash (token field -> position)
-- KEYS[2] room hash   (fields up_to, live)
-- KEYS[3] waves zset  (score last position)
-- ARGV[1] token field
-- Touches: KEYS[1], KEYS[2], KEYS[3] (reads only)
-- Returns {position, up_to, admitted-at ms or -1}; position -1 if the token is unknown, -2 if
-- the room is not live (lost with Redis and being restored: nothing here can be trusted yet)
if redis.call('HEXISTS', KEYS[2], 'live') == 0 then
  return {-2, 0, -1}
end
local position = redis.call('HGET', KEYS[1], ARGV[1])
if not position then
  return {-1, 0, -1}
end
position = tonumber(position)
local up_to = tonumber(redis.call('HGET', KEYS[2], 'up_to')) or 0
if position < 1 or position > up_to then
  return {position, up_to, -1}
end
local wave = redis.call('ZRANGEBYSCORE', KEYS[3], position, '+inf', 'LIMIT', 0, 1)[1]
if not wave then
  return {position, up_to, -1}
end
local _, _, admitted_at = string.find(wave, '^%d+:%d+:(%d+)')
return {position, up_to, tonumber(admitted_at)}
