-- A drainer found the mailbox empty: let go of the event, unless a request slipped in.
--
-- KEYS[1] list    <prefix>ev:{e}:mailbox  (LLEN)
-- KEYS[2] string  <prefix>ev:{e}:drain    the drain flag (DEL)
-- KEYS[3] string  <prefix>ev:{e}:lease    the drainer's lease (GET, DEL)
-- ARGV[1] the drainer's lease token
--
-- Returns 1 = done (flag and lease deleted together, so the next request sends a new message),
-- 0 = requests are waiting (keep draining), -1 = the lease is not ours any more (stop).
-- Atomic with res_enqueue.lua: a request is either seen here or finds the flag gone.

if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return -1
end
if redis.call('LLEN', KEYS[1]) > 0 then
  return 0
end
redis.call('DEL', KEYS[2], KEYS[3])
return 1
