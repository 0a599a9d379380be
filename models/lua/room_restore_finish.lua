-- Last step of a room restore: write the counters, count the used admissions from the bitmap
-- (so a reservation marked used while the restore ran is counted), then mark the room live.
-- KEYS[1] room hash
-- KEYS[2] used bitmap
-- ARGV[1] live value (ms); ARGV[2] expire-at for the room, in ms (unix)
-- ARGV[3], ARGV[4], ... counter name, value pairs
-- Touches: KEYS[1], KEYS[2] (reads only)
-- Returns the used count
local room = KEYS[1]
for i = 3, #ARGV, 2 do
  redis.call('HSET', room, ARGV[i], ARGV[i + 1])
end
local used = redis.call('BITCOUNT', KEYS[2])
redis.call('HSET', room, 'used', used)
redis.call('HSET', room, 'live', ARGV[1])
redis.call('PEXPIREAT', room, ARGV[2])
return used
