-- Drop the journal entries just copied to the database, only if this copier still holds the
-- room lease and nobody trimmed them first (two copiers must never trim twice: the second trim
-- would drop entries nobody copied).
-- KEYS[1] journal list
-- KEYS[2] room lease
-- ARGV[1] lease nonce ('' = the caller holds no lease: tests and benchmarks)
-- ARGV[2] entries copied
-- ARGV[3] the first entry copied
-- ARGV[4] the last entry copied
-- Touches: KEYS[1], KEYS[2] (reads only)
-- Returns 1 trimmed, 0 someone else trimmed them, -1 the lease is not ours, -2 the copied
-- entries are not the list's first ones any more although its head is (Redis went back to an
-- earlier state since they were read, and joins appended other entries: trimming would drop
-- entries nobody copied)
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return -1
end
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[3] then
  return 0
end
if redis.call('LINDEX', KEYS[1], tonumber(ARGV[2]) - 1) ~= ARGV[4] then
  return -2
end
redis.call('LTRIM', KEYS[1], ARGV[2], -1)
return 1
