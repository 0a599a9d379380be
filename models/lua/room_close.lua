-- Close the pre-queue (idempotent): no join after this enters it, so its size is final.
-- KEYS[1] room hash
-- ARGV[1] now, in ms
-- Touches: KEYS[1]
-- Returns {pre-queue size, opened-at ms or 0}
local room = KEYS[1]
if redis.call('HSETNX', room, 'pclosed', ARGV[1]) == 1 then
  redis.call('HSETNX', room, 'pre', 0)
end
local state = redis.call('HMGET', room, 'pre', 'opened')
return {tonumber(state[1]) or 0, tonumber(state[2]) or 0}
