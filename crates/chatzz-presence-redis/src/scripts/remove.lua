-- Removes a live socket.
-- KEYS: user's sockets, this server's users, online users.
-- ARGV: member, this server's member prefix ("<server> "), user.
-- Returns 0 not live, 1 removed, 2 removed and the user went offline.
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
forget_on_server()
if redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[3])
  return 2
end
return 1
