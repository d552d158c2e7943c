"""The Lua scripts of `RedisStore` (app/platform/store.py): each runs as one atomic step
and one round trip, where a MULTI/EXEC pipeline cost the client five replies to parse."""

# KEYS: counters, then keys to read. ARGV: the number of counters, then per counter its
# window in seconds and its attempts. Counts one event under each counter in turn (the
# window starts with its first event), stopping at the first past its attempts:
# {its position, its count, seconds until its window ends}. When none is past,
# {0, 0, 0, the values of the keys to read (false for a missing one)}.
HIT_MANY = """
local counters = tonumber(ARGV[1])
for i = 1, counters do
  local window = tonumber(ARGV[2 * i])
  local count = redis.call('INCR', KEYS[i])
  local ttl = redis.call('TTL', KEYS[i])
  if ttl < 0 then
    redis.call('EXPIRE', KEYS[i], window)
    ttl = window
  end
  if count > tonumber(ARGV[2 * i + 1]) then
    return {i, count, ttl}
  end
end
local answer = {0, 0, 0}
for i = counters + 1, #KEYS do
  answer[#answer + 1] = redis.call('GET', KEYS[i])
end
return answer
"""

# KEYS: one counter. ARGV: its window in seconds. {events in the window, seconds left}.
HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""

# KEYS: the key to check, a counter. ARGV: the value expected under the key, the counter's
# window in seconds. {the key's value (false when missing)}, and when it is the expected one
# the counter counts one event: {the value, events in the window, seconds left}.
HIT_IF = """
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then
  return {current}
end
local count = redis.call('INCR', KEYS[2])
local ttl = redis.call('TTL', KEYS[2])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[2], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {current, count, ttl}
"""

# KEYS: hashes {v: value, m: capped misses, g:<guesser>: that guesser's misses}.
# ARGV: candidate, guesser, its max misses, ceiling (0: none), capped (1 or 0).
# 1 when a value open to the guesser matched (and is gone); else a miss on each open one.
SPEND_ONE_TIME = """
local field = 'g:' .. ARGV[2]
local own, ceiling, capped = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1'
local open = {}
for _, key in ipairs(KEYS) do
  local value = redis.call('HGET', key, 'v')
  if value and tonumber(redis.call('HGET', key, field) or '0') < own
      and not (capped and ceiling > 0
               and tonumber(redis.call('HGET', key, 'm') or '0') >= ceiling) then
    if value == ARGV[1] then
      redis.call('DEL', key)
      return 1
    end
    open[#open + 1] = key
  end
end
for _, key in ipairs(open) do
  redis.call('HINCRBY', key, field, 1)
  if capped then redis.call('HINCRBY', key, 'm', 1) end
end
return 0
"""
