-- Claim the right to send a drain message for an event (availability with missing counters,
-- the stalled-mailbox sweep). Same flag rule as res_enqueue.lua.
--
-- KEYS[1] list    <prefix>ev:{e}:mailbox   (LLEN)
-- KEYS[2] string  <prefix>ev:{e}:drain     ms timestamp of the last send / drainer step (GET, SET PX)
-- KEYS[3] string  <prefix>ev:{e}:lease     (EXISTS)
-- ARGV: 1 drain flag ttl (ms), 2 stall threshold (ms), 3 "1" = only when the mailbox has requests
--
-- Returns 1 when the caller must send the message (the flag is now set), else 0: a drainer holds
-- the lease, or a message was sent less than the stall threshold ago.

if ARGV[3] == '1' and redis.call('LLEN', KEYS[1]) == 0 then
  return 0
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local flag = redis.call('GET', KEYS[2])
if flag and now - tonumber(flag) <= tonumber(ARGV[2]) then
  return 0
end
redis.call('SET', KEYS[2], now, 'PX', ARGV[1])
return 1
