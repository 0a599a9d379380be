-- Accept one reservation request: a pending record, the user's live slot, a place in the mailbox.
--
-- KEYS[1] hash    <prefix>ev:{e}:live      user -> id of the live (pending|held) reservation (HGET, HSET)
-- KEYS[2] hash    <prefix>ev:{e}:users     user -> tickets in live holds + paid orders       (HGET)
-- KEYS[3] list    <prefix>ev:{e}:mailbox   reservation ids waiting for a decision, FIFO       (RPUSH)
-- KEYS[4] string  <prefix>ev:{e}:drain     ms timestamp: a drain message is queued or running (GET, SET PX)
-- KEYS[5] string  <prefix>ev:{e}:lease     the drainer's lease                                (EXISTS)
-- KEYS[6] hash    <prefix>res:<id>         the new reservation record                         (HSET)
-- KEYS[7..9], optional: the fan's admission is checked first, in this same call (the web tier's
--         reserve is one round trip): room:{e}:b:<n>, room:{e}, room:{e}:waves, read only
--         (see lib_admission.lua)
-- ARGV: 1 user, 2 id, 3 event id, 4 tier id, 5 quantity, 6 token, 7 per-event purchase limit,
--       8 created at (ms; also "now" for the admission window), 9 drain flag ttl (ms),
--       10 stall threshold (ms), 11 request id,
--       12 id of a stale live reservation the caller saw and may replace ("" = none),
--       13 the fan's waiting-room position ("" = unknown; the drainer marks it used; with
--          KEYS[7..9] the position found there),
--       14 the token's bucket field and 15 the admission window (ms), with KEYS[7..9]
--
-- Returns {"admission", verdict, position, up_to, admitted_at}  not admitted (nothing written)
--         {"existing", id}  the user already has a live reservation (nothing written)
--         {"limit", count}  live holds + paid orders + quantity would pass the cap (nothing written)
--         {"accepted", 1|0} queued; 1 = the caller must send a drain message for the event
-- The drain flag makes one message serve a whole burst; a flag left by a dead drainer (no lease,
-- stamp older than the stall threshold) is taken over, so a lost message cannot strand requests.

--#include lib_admission

local user, id = ARGV[1], ARGV[2]
local position = ARGV[13]
if #KEYS == 9 then
  local verdict, found, up_to, admitted_at = admission(KEYS[7], KEYS[8], KEYS[9], ARGV[14], tonumber(ARGV[8]),
    tonumber(ARGV[15]))
  if verdict ~= 'admitted' then
    return {'admission', verdict, found, up_to, admitted_at}
  end
  position = found
end
local live = redis.call('HGET', KEYS[1], user)
if live and live ~= ARGV[12] then
  return {'existing', live}
end
local count = tonumber(redis.call('HGET', KEYS[2], user) or '0')
if count + tonumber(ARGV[5]) > tonumber(ARGV[7]) then
  return {'limit', count}
end

redis.call('HSET', KEYS[6], 'id', id, 'event_id', ARGV[3], 'tier_id', ARGV[4], 'user_id', user,
  'quantity', ARGV[5], 'status', 'pending', 'expires_at', '', 'reason', '', 'token', ARGV[6],
  'created_ms', ARGV[8], 'request_id', ARGV[11], 'position', position)
redis.call('HSET', KEYS[1], user, id)
redis.call('RPUSH', KEYS[3], id)

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local flag = redis.call('GET', KEYS[4])
local send = 0
if not flag then
  send = 1
elseif redis.call('EXISTS', KEYS[5]) == 0 and now - tonumber(flag) > tonumber(ARGV[10]) then
  send = 1
end
if send == 1 then
  redis.call('SET', KEYS[4], now, 'PX', ARGV[9])
end
return {'accepted', send}
