-- Takes the sockets of a server whose lease ended out of presence. Only the first
-- caller finds the server expired, so each flip is reported once.
-- KEYS: servers and their lease ends, online users.
-- ARGV: server, key prefix.
-- Returns the users who went offline.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not lease or tonumber(lease) >= now then
  return {}
end
redis.call('ZREM', KEYS[1], ARGV[1])
local server_users = ARGV[2] .. 'server:' .. ARGV[1]
local prefix = ARGV[1] .. ' '
local gone = {}
for _, user in ipairs(redis.call('SMEMBERS', server_users)) do
  local sockets = ARGV[2] .. 'user:' .. user
  for _, member in ipairs(redis.call('SMEMBERS', sockets)) do
    if string.sub(member, 1, #prefix) == prefix then
      redis.call('SREM', sockets, member)
    end
  end
  if redis.call('SCARD', sockets) == 0 and redis.call('SREM', KEYS[2], user) == 1 then
    table.insert(gone, user)
  end
end
redis.call('DEL', server_users)
return gone
