-- Shared by remove.lua and remove_unless_last.lua, after a socket left KEYS[1]: the
-- user leaves this server's users (KEYS[2]) once none of its sockets (members starting
-- with ARGV[2]) is left here.
local function forget_on_server()
  for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if string.sub(member, 1, #ARGV[2]) == ARGV[2] then
      return
    end
  end
  redis.call('SREM', KEYS[2], ARGV[3])
end
