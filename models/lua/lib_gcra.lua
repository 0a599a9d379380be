-- Library, not a script: ratelimit.lua and room_join.lua include it (models/redis.py inlines it
-- in place of their include line), so every rate limit is counted by this one GCRA (generic cell
-- rate algorithm), all or nothing over several policies.
--
-- gcra_now(at): the clock in ms: ``at`` when it is a number (tests pass their own clock, so a
--   loaded machine cannot refill a quota between two of their requests), else Redis TIME (so
--   every web process shares one clock).
-- gcra(keys, first_key, args, first_arg, now, refund, out): count one request against the
--   policies whose state lies in keys[first_key..#keys]; policy i (from 0) allows
--   args[first_arg + 2i] requests (also the burst) per args[first_arg + 2i + 1] ms.
--   key  string  <prefix>rl:...   the policy's theoretical arrival time (TAT), in ms (GET, SET PX, DEL)
--   A request is allowed only if every policy allows it; only then is each TAT advanced, so a
--   refused request costs nothing. A key expires once its policy is fully replenished.
--   ``refund``: give back one request counted by an earlier call instead (GCRA state is
--   additive: a refund is exact even if other requests were counted in between).
--   Appends allowed (1|0), retry_after_ms, remaining_1, reset_ms_1, remaining_2, reset_ms_2, ...
--   to ``out`` (the caller's reply: no table of its own to copy) and returns allowed; reset_ms is
--   the time until that policy's quota is whole again.
--   Library functions are read once into locals and the policies' figures kept in one flat table:
--   with room_join.lua's reply made once, 10k of a join's 207k Redis instructions under callgrind
--   (python -m bench.joinredis --callgrind), a tenth of what its limits cost.

local floor, ceil, max, format = math.floor, math.ceil, math.max, string.format

local function gcra_now(at)
  local now = tonumber(at)
  if now then
    return now
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000)
end

-- A TAT as stored: milliseconds with three decimals ('%.3f': tostring would round to 14 digits).
-- A whole number (every TAT while now and the intervals are whole: Redis TIME, and a window that
-- the limit divides, as the defaults' 60,000 / 30 and / 600) goes through '%d', not the libc's
-- float printing (printf_fp: ~1.7k instructions a TAT under callgrind); the same bytes.
local function gcra_ms3(at)
  if at % 1 == 0 then
    return format('%d.000', at)
  end
  return format('%.3f', at)
end

local function gcra(keys, first_key, args, first_arg, now, refund, out)
  local allowed, retry, last = 1, 0, #keys - first_key
  -- per policy i: its TAT, the TAT it would advance to, its interval and its window, at 4i+1..4i+4
  local state = {}
  for i = 0, last do
    local limit = tonumber(args[first_arg + 2 * i])
    local window = tonumber(args[first_arg + 2 * i + 1])
    local interval = window / limit
    local tat = tonumber(redis.call('GET', keys[first_key + i]) or now) or now
    if tat < now then tat = now end
    local new_tat = tat + interval
    if refund then
      new_tat = max(now, tat - interval)
    end
    local excess = new_tat - now - window
    if excess > 0 then
      allowed = 0
      if excess > retry then retry = excess end
    end
    state[4 * i + 1], state[4 * i + 2], state[4 * i + 3], state[4 * i + 4] = tat, new_tat, interval, window
  end
  local n = #out
  out[n + 1], out[n + 2] = allowed, ceil(retry)
  n = n + 2
  for i = 0, last do
    local tat, interval, window = state[4 * i + 1], state[4 * i + 3], state[4 * i + 4]
    if allowed == 1 then
      tat = state[4 * i + 2]
      if tat <= now then
        redis.call('DEL', keys[first_key + i])
      else
        -- The TAT as gcra_ms3 spells it; the expiry goes as a '%d' string, not a number Redis
        -- would format as a float.
        redis.call('SET', keys[first_key + i], gcra_ms3(tat), 'PX', format('%d', max(1, ceil(tat - now))))
      end
    end
    local used = tat - now
    local remaining = floor((window - used) / interval + 1e-9)
    if remaining < 0 then remaining = 0 end
    out[n + 1], out[n + 2] = remaining, ceil(used)
    n = n + 2
  end
  return allowed
end
