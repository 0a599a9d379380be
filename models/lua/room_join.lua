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
-- ARGV[4] expire-at for the keys, in ms (unix)
-- ARGV[5] the bucket's number
-- ARGV[6], with KEYS[5..]: the limits' clock in ms ("" = Redis TIME, shared by every web process)
-- ARGV[7..], with KEYS[5..]: each limit's requests per window and window in ms, in KEYS order
-- Touches: KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5..]
-- Expiries: every key it creates or touches ends up expiring no earlier than ARGV[4] (what the
-- old script set on each join); an expiry is written only when that moves it. The room hash keeps
-- the instant in its field expire_at (read with the counters, written in the counters' HSET).
-- A join whose ARGV[4] is later (the event's start moved, or now is past it), or the first join of
-- a room opened or restored without the field, sets expire_at and the expiry of the room, the
-- journal, its bucket and (before on-sale) the pre-queue set. Otherwise the room's stays; the
-- journal's is set when RPUSH created it (the wave tick deletes it once it copied every entry);
-- the pre-queue set's when SADD added a bucket number (the set may be new; no SADD follows the
-- pre-queue's close, so it needs nothing after); a bucket's is read (PEXPIRETIME: no write,
-- nothing propagated; Redis 7) and set when behind expire_at (-1: new, or untouched since it
-- moved); on Redis 6.2, which lacks PEXPIRETIME, a bucket's is set on every join as before.
-- So a join into a bucket that already holds fans writes no expiry (3 PEXPIREATs before).
-- Returns {created 0|1, position, pre-queue size, joins after on-sale},
-- or {-1, 0, 0, 0} while the room is not live (never opened, or lost with Redis and not restored
-- yet): a join then would hand out places that are already taken.
-- With limits, the reply goes on with ratelimit.lua's {allowed 1|0, retry_after_ms, remaining_i,
-- reset_ms_i...}; a join a limit refuses answers {-2, 0, 0, 0, 0, ...} and writes nothing at all.
-- The limits are counted for a room that is not live (-1), so the caller joins again without them.

--#include lib_gcra

local limits = nil
if #KEYS > 4 then
  local allowed, retry, state = gcra(KEYS, 5, ARGV, 7, gcra_now(ARGV[6]), false)
  limits = {allowed, retry}
  for i = 1, #state do
    limits[#limits + 1] = state[i]
  end
end

local function reply(created, position, pre, seq)
  local out = {created, position, pre, seq}
  if limits then
    for i = 1, #limits do
      out[#out + 1] = limits[i]
    end
  end
  return out
end

if limits and limits[1] == 0 then
  return reply(-2, 0, 0, 0)
end
local room, bucket, field = KEYS[1], KEYS[2], ARGV[1]
local state = redis.call('HMGET', room, 'pre', 'seq', 'pclosed', 'live', 'expire_at')
if not state[4] then
  return reply(-1, 0, 0, 0)
end
local pre = tonumber(state[1]) or 0
local seq = tonumber(state[2]) or 0
local existing = redis.call('HGET', bucket, field)
if existing then
  return reply(0, tonumber(existing), pre, seq)
end
-- Expiries (see the header): expire_at is the room's, the latest ARGV[4] a join brought.
local expire_at, moved = state[5], false
if not expire_at or tonumber(ARGV[4]) > tonumber(expire_at) then
  expire_at, moved = ARGV[4], true
end
-- The room's counters are written with one HSET (this script runs alone: read + 1 is HINCRBY),
-- which also carries pclosed and expire_at when they change.
local fields
local position
if tonumber(ARGV[2]) < tonumber(ARGV[3]) and not state[3] then
  -- Before on-sale arrival time does not matter: the place is drawn later.
  pre = pre + 1
  fields = {'pre', pre}
  position = 0
  if redis.call('SADD', KEYS[3], ARGV[5]) == 1 or moved then  -- the set may be new
    redis.call('PEXPIREAT', KEYS[3], expire_at)
  end
else
  seq = seq + 1
  fields = {'seq', seq}
  -- The first join at/after on-sale closes the pre-queue, freezing its size.
  if not state[3] then
    fields[3], fields[4] = 'pclosed', ARGV[2]
  end
  position = pre + seq
end
if moved then
  fields[#fields + 1] = 'expire_at'
  fields[#fields + 1] = expire_at
  redis.call('PEXPIREAT', room, expire_at)
end
redis.call('HSET', room, unpack(fields))
redis.call('HSET', bucket, field, position)
-- PEXPIRETIME is Redis 7's: on Redis 6.2 (the embedded server) the error makes this write every time.
local at = (not moved) and redis.pcall('PEXPIRETIME', bucket)
if type(at) ~= 'number' or at < tonumber(expire_at) then  -- -1: new
  redis.call('PEXPIREAT', bucket, expire_at)
end
if redis.call('RPUSH', KEYS[4], field .. ':' .. position) == 1 or moved then
  redis.call('PEXPIREAT', KEYS[4], expire_at)
end
return reply(1, position, pre, seq)
