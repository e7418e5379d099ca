-- Removes a live socket.
-- KEYS: user's sockets, this server's users, online users.
-- ARGV: member, this server's member prefix ("<server> "), user.
-- Returns 0 not live, 1 removed, 2 removed and the user went offline.
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local here = false
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if string.sub(member, 1, #ARGV[2]) == ARGV[2] then
    here = true
    break
  end
end
if not here then
  redis.call('SREM', KEYS[2], ARGV[3])
end
if redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[3])
  return 2
end
return 1
