-- Join one event's waiting room, atomically. Rejoining returns the stored place unchanged.
-- KEYS[1] room hash   (fields live, pre, seq, pclosed; see models/waiting_room/store.py)
-- KEYS[2] bucket hash (token field -> position; 0 = in the pre-queue, position drawn at on-sale)
-- KEYS[3] set of bucket numbers holding pre-queue fans (the draw reads only those)
-- KEYS[4] journal list ("field:position" per new join, copied to the database by the wave tick)
-- KEYS[5..], optional: the join's rate limits, one string per policy, <prefix>rl:{e}:<scope>:<subject>
--         (in the room's slot), counted first, in this same call (lib_gcra.lua: GET, SET PX, DEL)
-- ARGV[1] token field
-- ARGV[2] now, in ms (the web server's clock)
-- ARGV[3] on-sale instant, in ms
-- ARGV[4] expire-at for the keys, in ms (unix). A join gives it to the bucket, and to the journal
--         and the pre-queue set only when it creates them (RPUSH answering 1, SADD adding a bucket
--         number): the room hash got its expiry when it went live, and the wave tick moves the
--         room's, the journal's and the set's to the event's current expire-at every step
--         (waves.keep_expiry), so a join does not (two commands less per join). The tick also
--         pushes every bucket's past the room's when the room's moves far enough (a postponed
--         event, a started one still selling): a bucket nobody joins into keeps the room's life.
-- ARGV[5] the bucket's number
-- ARGV[6], with KEYS[5..]: the limits' clock in ms ("" = Redis TIME, shared by every web process)
-- ARGV[7..], with KEYS[5..]: each limit's requests per window and window in ms, in KEYS order
-- Touches: KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5..]
-- Returns {created 0|1, position, pre-queue size, joins after on-sale},
-- or {-1, 0, 0, 0} while the room is not live (never opened, or lost with Redis and not restored
-- yet): a join then would hand out places that are already taken.
-- With limits, the reply goes on with ratelimit.lua's {allowed 1|0, retry_after_ms, remaining_i,
-- reset_ms_i...}; a join a limit refuses answers {-2, 0, 0, 0, 0, ...} and writes nothing at all.
-- The limits are counted for a room that is not live (-1), so the caller joins again without them.

--#include lib_gcra

-- The reply, its first four filled in last; the limits' part goes on from its fifth.
local out = {0, 0, 0, 0}
if #KEYS > 4 and gcra(KEYS, 5, ARGV, 7, gcra_now(ARGV[6]), false, out) == 0 then
  out[1] = -2
  return out
end
local room, bucket, field = KEYS[1], KEYS[2], ARGV[1]
local state = redis.call('HMGET', room, 'pre', 'seq', 'pclosed', 'live')
if not state[4] then
  out[1] = -1
  return out
end
-- A string becomes a number through the libc's strtod (about 2k instructions for a 13-digit
-- instant under callgrind): only the numbers a path uses are converted, and the instants are
-- compared only while the pre-queue is open (the flag is tested first).
local pre = tonumber(state[1]) or 0
local existing = redis.call('HGET', bucket, field)
if existing then
  out[1], out[2], out[3], out[4] = 0, tonumber(existing), pre, tonumber(state[2]) or 0
  return out
end
local position, seq
if not state[3] and tonumber(ARGV[2]) < tonumber(ARGV[3]) then
  -- Before on-sale arrival time does not matter: the place is drawn later.
  pre = redis.call('HINCRBY', room, 'pre', '1')
  seq = tonumber(state[2]) or 0
  position = 0
  if redis.call('SADD', KEYS[3], ARGV[5]) == 1 then
    redis.call('PEXPIREAT', KEYS[3], ARGV[4])  -- a new bucket number, perhaps a new set
  end
else
  -- The first join at/after on-sale closes the pre-queue, freezing its size.
  if not state[3] then
    redis.call('HSET', room, 'pclosed', ARGV[2])
  end
  seq = redis.call('HINCRBY', room, 'seq', '1')
  position = pre + seq
end
-- Numbers go to redis.call as strings ('1', '%d'): Redis formats a Lua number argument with
-- snprintf('%.17g') and Lua's '..' with '%.14g', each a float conversion (these and lib_gcra's
-- expiry were 3.7% of a new join's Redis instructions under callgrind). Same bytes stored.
local place = string.format('%d', position)
redis.call('HSET', bucket, field, place)
redis.call('PEXPIREAT', bucket, ARGV[4])  -- nothing tells whether HSET created the bucket
if redis.call('RPUSH', KEYS[4], field .. ':' .. place) == 1 then
  redis.call('PEXPIREAT', KEYS[4], ARGV[4])  -- a new journal
end
out[1], out[2], out[3], out[4] = 1, position, pre, seq
return out
