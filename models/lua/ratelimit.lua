-- Rate limit check: GCRA, all or nothing over several policies (the algorithm: lib_gcra.lua).
--
-- KEYS[i]     string  <prefix>rl:<scope>:<subject>  the policy's theoretical arrival time (TAT), in ms
-- ARGV[2i-1]  limit   requests allowed per window (also the burst)
-- ARGV[2i]    window  in milliseconds
-- ARGV[2n+1..] optional, in any order:
--             "refund": give back one request counted by an earlier call instead (on
--             Redis Cluster each key is checked in its own call; when another call refused the
--             request, the calls that counted it refund it, so a refused request still costs
--             no policy anything).
--             "at:<ms>": count at this time instead of Redis TIME (tests).
--
-- Touches only KEYS[i] (GET, SET PX, DEL). A key expires once its policy is fully replenished.
-- The join scope is counted by room_join.lua instead, in the join's own call.
--
-- Returns {allowed (1|0), retry_after_ms, remaining_1, reset_ms_1, remaining_2, reset_ms_2, ...}
-- where reset_ms is the time until that policy's quota is whole again (a refund returns allowed 1).

--#include lib_gcra

local refund, at = false, nil
for i = 2 * #KEYS + 1, #ARGV do
  if ARGV[i] == 'refund' then
    refund = true
  elseif string.sub(ARGV[i], 1, 3) == 'at:' then
    at = string.sub(ARGV[i], 4)
  end
end

local out = {}
gcra(KEYS, 1, ARGV, 1, gcra_now(at), refund, out)
return out
