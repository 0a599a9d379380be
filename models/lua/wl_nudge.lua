-- Tickets came back to an event that has a waitlist: queue one "offers" marker in the event's
-- mailbox, so the event's drainer (the one serialized path that grants holds) offers them.
--
-- KEYS[1] hash    <prefix>ev:{e}:wl       tier -> fans waiting                      (HGET, HLEN)
-- KEYS[2] string  <prefix>ev:{e}:offers   set while a marker waits in the mailbox   (SET NX PX)
-- KEYS[3] list    <prefix>ev:{e}:mailbox  (RPUSH)
-- KEYS[4] string  <prefix>ev:{e}:drain    drain flag, same rule as res_enqueue.lua  (GET, SET PX)
-- KEYS[5] string  <prefix>ev:{e}:lease    the drainer's lease                       (EXISTS)
-- ARGV: 1 tier id ("" = any tier), 2 drain flag ttl (ms), 3 stall threshold (ms),
--       4 offers flag ttl (ms), 5 the marker
--
-- Returns 0 when nobody waits for the tier (nothing queued), 1 when the caller must send a drain
-- message for the event, 2 when a marker is queued and a drainer is on its way.
-- At most one marker waits at a time: the drainer deletes the flag before it offers, so a return
-- during its offer step queues a fresh marker.

local waiting
if ARGV[1] == '' then
  waiting = redis.call('HLEN', KEYS[1]) > 0
else
  waiting = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') > 0
end
if not waiting then
  return 0
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[4]) then
  redis.call('RPUSH', KEYS[3], ARGV[5])
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local flag = redis.call('GET', KEYS[4])
if not flag or (redis.call('EXISTS', KEYS[5]) == 0 and now - tonumber(flag) > tonumber(ARGV[3])) then
  redis.call('SET', KEYS[4], now, 'PX', ARGV[2])
  return 1
end
return 2
