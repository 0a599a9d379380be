-- Rate limit check: GCRA (generic cell rate algorithm), all or nothing over several policies.
--
-- KEYS[i]     string  <prefix>rl:<scope>:<subject>  the policy's theoretical arrival time (TAT), in ms
-- ARGV[2i-1]  limit   requests allowed per window (also the burst)
-- ARGV[2i]    window  in milliseconds
-- ARGV[2n+1..] optional, in any order:
--             "refund": give back one request counted by an earlier call instead (on
--             Redis Cluster each key is checked in its own call; when another call refused the
--             request, the calls that counted it refund it, so a refused request still costs
--             no policy anything). GCRA state is additive: a refund is exact even if other
--             requests were counted in between.
--             "at:<ms>": count at this time instead of Redis TIME (tests pass their own clock,
--             so a loaded machine cannot refill a quota between two of their requests).
--
-- Touches only KEYS[i] (GET, SET PX, DEL). The clock is Redis TIME, so every web process shares it.
-- A request is allowed only if every policy allows it; only then is each TAT advanced, so a
-- refused request costs nothing. A key expires once its policy is fully replenished.
--
-- Returns {allowed (1|0), retry_after_ms, remaining_1, reset_ms_1, remaining_2, reset_ms_2, ...}
-- where reset_ms is the time until that policy's quota is whole again (a refund returns allowed 1).

local refund, now = false, nil
for i = 2 * #KEYS + 1, #ARGV do
  if ARGV[i] == 'refund' then
    refund = true
  elseif string.sub(ARGV[i], 1, 3) == 'at:' then
    now = tonumber(string.sub(ARGV[i], 4))
  end
end
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local allowed = 1
local retry = 0
local state = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  local interval = window / limit
  local tat = tonumber(redis.call('GET', KEYS[i]) or now) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  if refund then
    new_tat = math.max(now, tat - interval)
  end
  local excess = new_tat - now - window
  if excess > 0 then
    allowed = 0
    if excess > retry then retry = excess end
  end
  state[i] = {tat, new_tat, interval, window}
end

local out = {allowed, math.ceil(retry)}
for i = 1, #KEYS do
  local tat, new_tat, interval, window = state[i][1], state[i][2], state[i][3], state[i][4]
  if allowed == 1 then
    tat = new_tat
    if tat <= now then
      redis.call('DEL', KEYS[i])
    else
      -- '%.3f' keeps sub-millisecond intervals exact enough (tostring would round to 14 digits).
      redis.call('SET', KEYS[i], string.format('%.3f', tat), 'PX', math.max(1, math.ceil(tat - now)))
    end
  end
  local used = tat - now
  local remaining = math.floor((window - used) / interval + 1e-9)
  if remaining < 0 then remaining = 0 end
  out[#out + 1] = remaining
  out[#out + 1] = math.ceil(used)
end
return out
