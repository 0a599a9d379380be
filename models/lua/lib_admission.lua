-- Library, not a script: room_admission.lua and res_enqueue.lua include it (models/redis.py
-- inlines it in place of their include line), so both judge an admission the same way.
--
-- admission(bucket, room, waves, field, now, ttl): is the token whose bucket field is ``field``
-- admitted at ``now`` (ms), its window lasting ``ttl`` ms from the wave that admitted it?
--   bucket  hash  <prefix>room:{e}:b:<n>   token field -> queue position       (HGET)
--   room    hash  <prefix>room:{e}         fields live, up_to                 (HEXISTS, HGET)
--   waves   zset  <prefix>room:{e}:waves   score last position of each wave   (ZRANGEBYSCORE)
-- Reads only. Returns verdict, position, up_to, admitted-at ms (-1 when not admitted), where
-- verdict is "admitted", "restoring" (the room is not live: lost with Redis and being restored,
-- nothing here can be trusted yet), "token_invalid" (unknown token), "not_admitted" (still
-- queued) or "admission_expired" (the window lapsed).
local function admission(bucket, room, waves, field, now, ttl)
  if redis.call('HEXISTS', room, 'live') == 0 then
    return 'restoring', -2, 0, -1
  end
  local position = redis.call('HGET', bucket, field)
  if not position then
    return 'token_invalid', -1, 0, -1
  end
  position = tonumber(position)
  if position < 0 then
    return 'token_invalid', position, 0, -1
  end
  local up_to = tonumber(redis.call('HGET', room, 'up_to')) or 0
  if position == 0 or position > up_to then
    return 'not_admitted', position, up_to, -1
  end
  local wave = redis.call('ZRANGEBYSCORE', waves, position, '+inf', 'LIMIT', 0, 1)[1]
  if not wave then
    return 'not_admitted', position, up_to, -1
  end
  local _, _, admitted_at = string.find(wave, '^%d+:%d+:(%d+)')
  admitted_at = tonumber(admitted_at)
  if now >= admitted_at + ttl then
    return 'admission_expired', position, up_to, admitted_at
  end
  return 'admitted', position, up_to, admitted_at
end
