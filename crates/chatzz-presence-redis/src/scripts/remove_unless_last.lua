-- Removes a live socket unless it is the user's last one anywhere.
-- KEYS: user's sockets, this server's users.
-- ARGV: member, this server's member prefix ("<server> "), user.
-- Returns 0 not live, 1 removed, 2 left in place as the last one.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  return 0
end
if redis.call('SCARD', KEYS[1]) == 1 then
  return 2
end
redis.call('SREM', KEYS[1], ARGV[1])
forget_on_server()
return 1
