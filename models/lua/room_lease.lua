-- Extend or release a lease only if we still hold it (compare the holder's nonce).
-- KEYS[1] lease key
-- ARGV[1] holder nonce
-- ARGV[2] new TTL in ms, or 0 to release
-- Touches: KEYS[1]
-- Returns 1 if we held it, 0 if not
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
