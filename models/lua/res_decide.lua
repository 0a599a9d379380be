-- Decide a batch of reservation requests of one event, in mailbox (FIFO) order.
--
-- KEYS[1]  hash  <prefix>ev:{e}:stock   tier -> available, "held:"..tier -> held    (HGET, HINCRBY)
-- KEYS[2]  hash  <prefix>ev:{e}:users   user -> tickets in live holds + paid orders (HGET, HINCRBY)
-- KEYS[3]  hash  <prefix>ev:{e}:live    user -> id of the live reservation          (HGET)
-- KEYS[4]  hash  <prefix>ev:{e}:wl      tier -> fans on its waitlist, tier:q -> of them,
--                                        those waiting for q tickets                  (HGET, HMGET)
-- KEYS[5+] hash  <prefix>res:<id>       the batch's records, FIFO                   (HMGET, HSET)
-- ARGV: 1 per-event purchase limit, 2 hold expiry (ISO 8601), 3 hold expiry (ms),
--       4 "1" right after a rebuild (a tier still missing is unknown, not stale), 5+ the batch ids
--
-- Returns {"rebuild"} (nothing decided) when the stock hash or a tier's field is missing, else
-- 12 items per request: id, decision, reason, expires_at, expires_ms, tier, user, quantity,
-- token, created_ms, request_id, position. decision is "held" or "rejected", or "" for an entry to drop
-- (record gone, or no longer pending).
--
-- Idempotent: a record decided before (its "decided" field set by an earlier run that died
-- before committing) returns that decision again without touching the counters, so a
-- redelivered batch grants nothing twice. Counters change only for fresh decisions.
-- A tier with fans on its waitlist is sold out to new requests while what is free fits one of
-- them: what comes back is theirs first. Tickets fewer than any waiting fan wants (a single seat
-- back when everyone waits for two) go back to general sale at once (docs/internals/waitlist.md).
-- Entries that are not reservation ids (the "offers" marker, models/waitlist/) have no record
-- and come back as "" (dropped).

local FIELDS = {'status', 'decided', 'decided_reason', 'decided_expires_at', 'decided_expires_ms',
  'tier_id', 'user_id', 'quantity', 'token', 'created_ms', 'request_id', 'position'}
local after_rebuild = ARGV[4] == '1'

if not after_rebuild and redis.call('EXISTS', KEYS[1]) == 0 then
  return {'rebuild'}
end

local records = {}
for i = 5, #KEYS do
  local r = redis.call('HMGET', KEYS[i], unpack(FIELDS))
  records[#records + 1] = r
  if not after_rebuild and r[1] == 'pending' and not r[2] and not redis.call('HGET', KEYS[1], r[6]) then
    return {'rebuild'}  -- a tier added after the counters were built
  end
end

local limit = tonumber(ARGV[1])

-- The fewest tickets a fan on the tier's waitlist waits for (nil: nobody waits). Sizes are at most
-- the purchase limit; counts missing for some waiting fans (written before sizes were kept)
-- answer 1, so their tier stays closed to new requests until the next rebuild.
local smallest_cache = {}
local function smallest_waiting(tier)
  local cached = smallest_cache[tier]
  if cached ~= nil then return cached or nil end
  local waiting = tonumber(redis.call('HGET', KEYS[4], tier) or '0')
  local smallest = false
  if waiting > 0 then
    local fields = {}
    for q = 1, limit do fields[q] = tier .. ':' .. q end
    local counts = redis.call('HMGET', KEYS[4], unpack(fields))
    local known = 0
    for q = 1, limit do
      local n = tonumber(counts[q] or '0')
      if n > 0 and not smallest then smallest = q end
      known = known + n
    end
    if known < waiting or not smallest then smallest = 1 end
  end
  smallest_cache[tier] = smallest
  return smallest or nil
end

local out = {}
for n, r in ipairs(records) do
  local id = ARGV[4 + n]
  local key = KEYS[4 + n]
  local decision, reason, exp_iso, exp_ms = '', '', '', ''
  if r[1] == 'pending' and r[2] then
    decision, reason, exp_iso, exp_ms = r[2], r[3] or '', r[4] or '', r[5] or ''
  elseif r[1] == 'pending' then
    local tier, user, q = r[6], r[7], tonumber(r[8])
    local live = redis.call('HGET', KEYS[3], user)
    local count = tonumber(redis.call('HGET', KEYS[2], user) or '0')
    local avail = redis.call('HGET', KEYS[1], tier)
    if live and live ~= id then
      reason = 'already_reserved'
    elseif count + q > limit then
      reason = 'limit_exceeded'
    elseif not avail then
      reason = 'unknown_tier'
    elseif smallest_waiting(tier) and tonumber(avail) >= smallest_waiting(tier) then
      reason = 'sold_out'
    elseif tonumber(avail) < q then
      reason = 'sold_out'
    end
    if reason == '' then
      decision, exp_iso, exp_ms = 'held', ARGV[2], ARGV[3]
      redis.call('HINCRBY', KEYS[1], tier, -q)
      redis.call('HINCRBY', KEYS[1], 'held:' .. tier, q)
      redis.call('HINCRBY', KEYS[2], user, q)
      redis.call('HSET', key, 'decided', 'held', 'decided_reason', '',
        'decided_expires_at', exp_iso, 'decided_expires_ms', exp_ms)
    else
      decision = 'rejected'
      redis.call('HSET', key, 'decided', 'rejected', 'decided_reason', reason,
        'decided_expires_at', '', 'decided_expires_ms', '')
    end
  end
  out[#out + 1] = id
  out[#out + 1] = decision
  out[#out + 1] = reason
  out[#out + 1] = exp_iso
  out[#out + 1] = exp_ms
  out[#out + 1] = r[6] or ''
  out[#out + 1] = r[7] or ''
  out[#out + 1] = r[8] or ''
  out[#out + 1] = r[9] or ''
  out[#out + 1] = r[10] or ''
  out[#out + 1] = r[11] or ''
  out[#out + 1] = r[12] or ''
end
return out
