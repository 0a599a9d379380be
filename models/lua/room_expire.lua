-- Count admissions whose window lapsed unused, resuming from the exp_pos cursor (idempotent).
-- KEYS[1] room hash   (fields exp_pos, expired)
-- KEYS[2] waves zset  (score last position, member "first:last:admitted_at_ms:capacity")
-- KEYS[3] used bitmap
-- ARGV[1] now, in ms
-- ARGV[2] admission window, in ms
-- ARGV[3] most positions to look at in this call
-- Touches: KEYS[1], KEYS[2], KEYS[3]
-- Returns {admissions newly counted as expired, positions examined}
local room, waves, used = KEYS[1], KEYS[2], KEYS[3]
local lapsed_before = tonumber(ARGV[1]) - tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local cursor = tonumber(redis.call('HGET', room, 'exp_pos')) or 0
local expired = 0
local examined = 0
while budget > 0 do
  local wave = redis.call('ZRANGEBYSCORE', waves, '(' .. cursor, '+inf', 'LIMIT', 0, 1)[1]
  if not wave then break end
  local _, _, first, last, admitted_at = string.find(wave, '^(%d+):(%d+):(%d+)')
  first, last, admitted_at = tonumber(first), tonumber(last), tonumber(admitted_at)
  if admitted_at > lapsed_before then break end
  local p = math.max(first, cursor + 1)
  local stop = math.min(last, p + budget - 1)
  while p <= stop do
    if redis.call('GETBIT', used, p) == 0 then expired = expired + 1 end
    p = p + 1
  end
  local n = stop - math.max(first, cursor + 1) + 1
  budget = budget - n
  examined = examined + n
  cursor = stop
end
redis.call('HSET', room, 'exp_pos', cursor)
if expired > 0 then
  redis.call('HINCRBY', room, 'expired', expired)
end
return {expired, examined}
