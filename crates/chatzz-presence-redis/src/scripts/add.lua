-- Adds a live socket unless the user holds ARGV[2] others already.
-- KEYS: user's sockets, this server's users, online users.
-- ARGV: member ("<server> <socket>"), max, user.
-- Returns -1 refused, 0 already live, 2 added, 3 added and the user came online.
local count = redis.call('SCARD', KEYS[1])
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  return 0
end
if count >= tonumber(ARGV[2]) then
  return -1
end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[3])
if count == 0 then
  redis.call('SADD', KEYS[3], ARGV[3])
  return 3
end
return 2
