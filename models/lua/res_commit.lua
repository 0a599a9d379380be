-- After the database committed a decided batch: make Redis agree with it, drop the batch from the
-- mailbox, and renew the drainer's lease.
--
-- KEYS[1]  hash    <prefix>ev:{e}:stock    tier -> available, "held:"..tier -> held  (HINCRBY, HSET)
-- KEYS[2]  hash    <prefix>ev:{e}:users    user -> tickets in live holds + paid      (HINCRBY, HDEL)
-- KEYS[3]  hash    <prefix>ev:{e}:live     user -> live reservation id               (HGET, HSET, HDEL)
-- KEYS[4]  list    <prefix>ev:{e}:mailbox  (LRANGE, LTRIM or LREM)
-- KEYS[5]  string  <prefix>ev:{e}:drain    drain flag, restamped                      (SET PX)
-- KEYS[6]  string  <prefix>ev:{e}:lease    the drainer's lease                        (GET, PEXPIRE)
-- KEYS[7+] hash    <prefix>res:<id>        the batch's records                        (HMGET, HSET, EXPIRE)
-- ARGV: 1 lease token, 2 lease ttl (ms), 3 drain flag ttl (ms), 4 ttl of a decided record (s),
--       5 hold ttl (s), 6 m = tiers to set from the database, then m triples (tier, available, held),
--       then 5 per record: id, final status, reason, expires_at, expires_ms
--
-- A record's counters move from what the decide script applied ("decided") to what the database
-- settled ("final"): they differ only when the database refused a hold Redis granted, or a
-- redelivered batch finds its rows already moved on (expired, released, converted).
-- Records no longer pending were committed by an earlier run: untouched.
-- Returns 1 while the lease is still ours, 0 when another drainer took it over.

local function effect(status, q)
  if status == 'held' then return -q, q, q end
  if status == 'converted' then return -q, 0, q end
  return 0, 0, 0
end

local has_stock = redis.call('EXISTS', KEYS[1]) == 1
local function move(tier, user, q, from, to)
  if not has_stock then return end  -- counters lost: the next rebuild reads the database
  local a1, h1, u1 = effect(from, q)
  local a2, h2, u2 = effect(to, q)
  if a2 ~= a1 then redis.call('HINCRBY', KEYS[1], tier, a2 - a1) end
  if h2 ~= h1 and redis.call('HINCRBY', KEYS[1], 'held:' .. tier, h2 - h1) < 0 then
    redis.call('HSET', KEYS[1], 'held:' .. tier, 0)
  end
  if u2 ~= u1 and redis.call('HINCRBY', KEYS[2], user, u2 - u1) <= 0 then
    redis.call('HDEL', KEYS[2], user)
  end
end

local m = tonumber(ARGV[6])
local base = 6 + 3 * m
local ids = {}
for n = 1, #KEYS - 6 do
  local a = base + 5 * (n - 1)
  local id, final = ARGV[a + 1], ARGV[a + 2]
  ids[n] = id
  local key = KEYS[6 + n]
  local r = redis.call('HMGET', key, 'status', 'decided', 'tier_id', 'user_id', 'quantity')
  if r[1] == 'pending' and final ~= '' then
    local user = r[4]
    move(r[3], user, tonumber(r[5]), r[2] or 'rejected', final)
    redis.call('HSET', key, 'status', final, 'reason', ARGV[a + 3], 'expires_at', ARGV[a + 4], 'expires_ms', ARGV[a + 5])
    local live = redis.call('HGET', KEYS[3], user)
    if final == 'held' then
      if not live then redis.call('HSET', KEYS[3], user, id) end
      redis.call('EXPIRE', key, tonumber(ARGV[4]) + tonumber(ARGV[5]))
    else
      if live == id then redis.call('HDEL', KEYS[3], user) end
      redis.call('EXPIRE', key, ARGV[4])
    end
  end
end

if has_stock then
  for i = 0, m - 1 do
    local tier = ARGV[7 + 3 * i]
    redis.call('HSET', KEYS[1], tier, ARGV[8 + 3 * i], 'held:' .. tier, ARGV[9 + 3 * i])
  end
end

-- Drop exactly the handled entries: normally the head of the list; if another drainer already
-- trimmed it (after a lease takeover), remove them one by one instead.
local head = redis.call('LRANGE', KEYS[4], 0, #ids - 1)
local same = #head == #ids
for i = 1, #ids do
  if head[i] ~= ids[i] then same = false break end
end
if same then
  redis.call('LTRIM', KEYS[4], #ids, -1)
else
  for i = 1, #ids do redis.call('LREM', KEYS[4], 1, ids[i]) end
end

if redis.call('GET', KEYS[6]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[6], ARGV[2])
local t = redis.call('TIME')
redis.call('SET', KEYS[5], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), 'PX', ARGV[3])
return 1
