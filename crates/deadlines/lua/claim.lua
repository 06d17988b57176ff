-- Claims due deadlines from the index, under a lease, atomically: two
-- callers never get the same member until its lease has run out.
--
-- KEYS[1]  the due index: a sorted set, member = a deadline id (16 raw
--          bytes), score = when that deadline next needs a worker, in ms
--          since the epoch (its warning, its due instant, or a lease's end)
-- KEYS[2]  the index marker: set once the index was built from the
--          database; gone when Redis lost its data
-- ARGV[1]  now, in ms since the epoch (the caller's clock: it may be a test
--          clock, so not Redis's TIME)
-- ARGV[2]  lease, in ms (> 0): each claimed member is re-scored to
--          now + lease, so if its worker dies it is claimable again then
-- ARGV[3]  limit (1 to 1000): the most members to claim
--
-- Returns  {0} when the marker is missing: rebuild the index, then claim
--          again. Otherwise {1, member, ...}: the claimed members, lowest
--          score first. A member is only a candidate; the database row
--          decides whether there is work.

local now = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
if now == nil or lease == nil or limit == nil then
  return redis.error_reply('ERR claim: now, lease and limit must be numbers')
end
if lease <= 0 or limit < 1 or limit > 1000 or limit ~= math.floor(limit) then
  return redis.error_reply('ERR claim: lease must be positive and limit a whole number from 1 to 1000')
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return {0}
end

local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
local reply = {1}
if #due == 0 then
  return reply
end

local lease_end = now + lease
local rescore = {}
for _, member in ipairs(due) do
  rescore[#rescore + 1] = lease_end
  rescore[#rescore + 1] = member
  reply[#reply + 1] = member
end
redis.call('ZADD', KEYS[1], 'XX', unpack(rescore))
return reply
