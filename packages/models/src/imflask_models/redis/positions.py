"""Replication positions kept in Redis, so every instance knows them.

Two kinds, both MariaDB GTID lists (see ``imflask_models.replication``) merged
on the server by one script, so racing writers never move one backwards:

- ``written-by:<user id>``: the position of a user's last writes, kept a short
  while (``imflask_controllers.reads`` routes their reads by it);
- ``gen-at:<family>:<id>``: the position behind a cache generation, written by
  ``cache.invalidate`` beside the bump.
"""

from __future__ import annotations

from redis.client import Pipeline

from imflask_models.redis.client import RedisStore, unavailable_on_failure

# Merges a GTID list into the one at a key and sets the result with a TTL: per domain
# the largest seq wins (the server id is kept as written); answers the result.
_MERGE = """
local function merge(key, list, ttl)
  local merged, domains = {}, {}
  local function add(text)
    for gtid in string.gmatch(text, '[^,]+') do
      local d, s, n = string.match(gtid, '^%s*(%d+)%-(%d+)%-(%d+)%s*$')
      if d then
        local current = merged[d]
        if current == nil then table.insert(domains, d) end
        if current == nil or tonumber(current[2]) < tonumber(n) then merged[d] = {s, n} end
      end
    end
  end
  add(redis.call('GET', key) or '')
  add(list)
  table.sort(domains, function(a, b) return tonumber(a) < tonumber(b) end)
  local parts = {}
  for _, d in ipairs(domains) do
    table.insert(parts, d .. '-' .. merged[d][1] .. '-' .. merged[d][2])
  end
  local value = table.concat(parts, ',')
  if value ~= '' then redis.call('SET', key, value, 'EX', ttl) end
  return value
end
"""
# KEYS[1]: the position's key; ARGV[1]: a GTID list to merge in; ARGV[2]: TTL, seconds.
MERGE_POSITION = _MERGE + "return merge(KEYS[1], ARGV[1], tonumber(ARGV[2]))\n"
# A cache bump and the position behind it, for any number of ids in one command:
# KEYS[2i-1]: a generation key, KEYS[2i]: the position key beside it; ARGV[1]: the
# generations' TTL, ARGV[2]: the position to merge into each, ARGV[3]: its TTL.
BUMP_WITH_POSITION = (
    _MERGE
    + """
for i = 1, #KEYS, 2 do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[1]))
  merge(KEYS[i + 1], ARGV[2], tonumber(ARGV[3]))
end
return #KEYS / 2
"""
)


def bump_with_position(
    pipe: Pipeline, pairs: list[tuple[str, str]], position: str, *, ttl: int, position_ttl: int
) -> None:
    """Queue on ``pipe`` one command that INCRs each generation key of ``pairs``
    ((generation key, position key), ...), renews its ``ttl``, and merges ``position``
    into the position key beside it.

    Sent as EVAL, the script's text: redis-py sends a pipeline holding a registered
    script with one more round trip first (SCRIPT EXISTS), and a cache bump is such a
    pipeline after every write."""
    keys = [key for pair in pairs for key in pair]
    pipe.eval(BUMP_WITH_POSITION, len(keys), *keys, ttl, position, position_ttl)


def merge_into(store: RedisStore, key: str, position: str, *, ttl: int) -> None:
    """Merge ``position`` into the one at ``key``."""
    script = store.client.register_script(MERGE_POSITION)
    script(keys=[key], args=[position, ttl])


def written_by_key(store: RedisStore, user_id: int) -> str:
    return store.key("written-by", user_id)


@unavailable_on_failure
def remember_written(store: RedisStore, user_id: int, position: str, *, ttl: int) -> None:
    """``user_id`` just wrote at ``position``: keep it ``ttl`` seconds."""
    merge_into(store, written_by_key(store, user_id), position, ttl=ttl)


@unavailable_on_failure
def written_by(store: RedisStore, user_id: int) -> str | None:
    """The position of ``user_id``'s recent writes, or None (none lately)."""
    return store.client.get(written_by_key(store, user_id)) or None  # pyright: ignore[reportReturnType] -- decode_responses=True: Redis answers str, never bytes
