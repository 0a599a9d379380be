-- Move one transferred ticket in a user's per-event count: +1 for the receiver (refused past the
-- cap), -1 for a sender who had received it from someone else.
--
-- KEYS[1] hash  <prefix>ev:{e}:stock   tier -> available; its absence means the event's counters
--                                      are not built (the next rebuild counts from the database)  (EXISTS)
-- KEYS[2] hash  <prefix>ev:{e}:users   user -> tickets in live holds + paid orders + received     (HGET, HINCRBY, HDEL)
-- ARGV: 1 user, 2 delta (1 or -1), 3 per-event purchase limit (checked when delta is 1)
--
-- Returns {1, count}  done: the user now has count (-1 = counters not built, nothing written)
--         {0, count}  refused: count + 1 would pass the limit (nothing written)
-- The receiver's +1 runs before the database moves the ticket (the caller gives it back if that
-- fails); the sender's -1 after it commits.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return {1, -1}
end
local delta = tonumber(ARGV[2])
local count = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if delta > 0 and count + delta > tonumber(ARGV[3]) then
  return {0, count}
end
count = redis.call('HINCRBY', KEYS[2], ARGV[1], delta)
if count <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  count = 0
end
return {1, count}
