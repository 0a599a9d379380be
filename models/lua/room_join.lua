-- Join one event's waiting room, atomically. Rejoining returns the stored place unchanged.
-- KEYS[1] room hash   (fields live, pre, seq, pclosed; see models/waiting_room/store.py)
-- KEYS[2] bucket hash (token field -> position; 0 = in the pre-queue, position drawn at on-sale)
-- KEYS[3] set of bucket numbers holding pre-queue fans (the draw reads only those)
-- KEYS[4] journal list ("field:position" per new join, copied to the database by the wave tick)
-- ARGV[1] token field
-- ARGV[2] now, in ms (the web server's clock)
-- ARGV[3] on-sale instant, in ms
-- ARGV[4] expire-at for the keys, in ms (unix)
-- ARGV[5] the bucket's number
-- Touches: KEYS[1], KEYS[2], KEYS[3], KEYS[4]
-- Returns {created 0|1, position, pre-queue size, joins after on-sale},
-- or {-1, 0, 0, 0} while the room is not live (never opened, or lost with Redis and not restored
-- yet): a join then would hand out places that are already taken.
local room, bucket, field = KEYS[1], KEYS[2], ARGV[1]
local state = redis.call('HMGET', room, 'pre', 'seq', 'pclosed', 'live')
if not state[4] then
  return {-1, 0, 0, 0}
end
local pre = tonumber(state[1]) or 0
local seq = tonumber(state[2]) or 0
local existing = redis.call('HGET', bucket, field)
if existing then
  return {0, tonumber(existing), pre, seq}
end
local position
if tonumber(ARGV[2]) < tonumber(ARGV[3]) and not state[3] then
  -- Before on-sale arrival time does not matter: the place is drawn later.
  pre = redis.call('HINCRBY', room, 'pre', 1)
  position = 0
  redis.call('SADD', KEYS[3], ARGV[5])
  redis.call('PEXPIREAT', KEYS[3], ARGV[4])
else
  -- The first join at/after on-sale closes the pre-queue, freezing its size.
  if not state[3] then
    redis.call('HSET', room, 'pclosed', ARGV[2])
  end
  seq = redis.call('HINCRBY', room, 'seq', 1)
  position = pre + seq
end
redis.call('HSET', bucket, field, position)
redis.call('PEXPIREAT', bucket, ARGV[4])
redis.call('PEXPIREAT', room, ARGV[4])
redis.call('RPUSH', KEYS[4], field .. ':' .. position)
redis.call('PEXPIREAT', KEYS[4], ARGV[4])
return {1, position, pre, seq}
