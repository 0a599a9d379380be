-- Judge a token's admission (for check_admission).
-- KEYS[1] bucket hash (token field -> position)
-- KEYS[2] room hash   (fields up_to, live)
-- KEYS[3] waves zset  (score last position)
-- ARGV[1] token field, ARGV[2] now (ms), ARGV[3] admission window (ms)
-- Touches: KEYS[1], KEYS[2], KEYS[3] (reads only)
-- Returns {verdict, position, up_to, admitted-at ms or -1} (see lib_admission.lua)
--#include lib_admission
return {admission(KEYS[1], KEYS[2], KEYS[3], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))}
