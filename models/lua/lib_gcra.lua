-- Library, not a script: ratelimit.lua and room_join.lua include it (models/redis.py inlines it
-- in place of their include line), so every rate limit is counted by this one GCRA (generic cell
-- rate algorithm), all or nothing over several policies.
--
-- gcra_now(at): the clock in ms: ``at`` when it is a number (tests pass their own clock, so a
--   loaded machine cannot refill a quota between two of their requests), else Redis TIME (so
--   every web process shares one clock).
-- gcra(keys, first_key, args, first_arg, now, refund): count one request against the policies
--   whose state lies in keys[first_key..#keys]; policy i (from 0) allows args[first_arg + 2i]
--   requests (also the burst) per args[first_arg + 2i + 1] ms.
--   key  string  <prefix>rl:...   the policy's theoretical arrival time (TAT), in ms (GET, SET PX, DEL)
--   A request is allowed only if every policy allows it; only then is each TAT advanced, so a
--   refused request costs nothing. A key expires once its policy is fully replenished.
--   ``refund``: give back one request counted by an earlier call instead (GCRA state is
--   additive: a refund is exact even if other requests were counted in between).
--   Returns allowed (1|0), retry_after_ms, {remaining_1, reset_ms_1, remaining_2, reset_ms_2, ...}
--   where reset_ms is the time until that policy's quota is whole again.

local function gcra_now(at)
  local now = tonumber(at)
  if now then
    return now
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A TAT as stored: milliseconds with three decimals ('%.3f': tostring would round to 14 digits).
-- A whole number (every TAT while now and the intervals are whole: Redis TIME, and a window that
-- the limit divides, as the defaults' 60,000 / 30 and / 600) goes through '%d', not the libc's
-- float printing (printf_fp: ~1.7k instructions a TAT under callgrind); the same bytes.
local function gcra_ms3(at)
  if at % 1 == 0 then
    return string.format('%d.000', at)
  end
  return string.format('%.3f', at)
end

local function gcra(keys, first_key, args, first_arg, now, refund)
  local allowed, retry, state = 1, 0, {}
  for i = 0, #keys - first_key do
    local limit = tonumber(args[first_arg + 2 * i])
    local window = tonumber(args[first_arg + 2 * i + 1])
    local interval = window / limit
    local tat = tonumber(redis.call('GET', keys[first_key + i]) or now) or now
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
    state[i + 1] = {tat, new_tat, interval, window}
  end
  local out = {}
  for i = 0, #keys - first_key do
    local tat, new_tat, interval, window = state[i + 1][1], state[i + 1][2], state[i + 1][3], state[i + 1][4]
    if allowed == 1 then
      tat = new_tat
      if tat <= now then
        redis.call('DEL', keys[first_key + i])
      else
        -- The TAT as gcra_ms3 spells it; the expiry goes as a '%d' string, not a number Redis
        -- would format as a float.
        redis.call('SET', keys[first_key + i], gcra_ms3(tat), 'PX', string.format('%d', math.max(1, math.ceil(tat - now))))
      end
    end
    local used = tat - now
    local remaining = math.floor((window - used) / interval + 1e-9)
    if remaining < 0 then remaining = 0 end
    out[#out + 1] = remaining
    out[#out + 1] = math.ceil(used)
  end
  return allowed, math.ceil(retry), out
end
