-- Renews this server's lease, by Redis's clock so that servers' clocks need not agree.
-- KEYS: servers and their lease ends.
-- ARGV: server, lease in milliseconds.
-- Returns {1 if the server was not registered (new, or swept as dead), expired servers}.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
return {added, expired}
