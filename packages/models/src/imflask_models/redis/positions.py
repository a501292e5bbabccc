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

# KEYS[1]: the position's key; ARGV[1]: a GTID list to merge in; ARGV[2]: TTL, seconds.
# Per domain the largest seq wins (the server id is kept as written); answers the result.
MERGE_POSITION = """
local merged, domains = {}, {}
local function add(list)
  for gtid in string.gmatch(list, '[^,]+') do
    local d, s, n = string.match(gtid, '^%s*(%d+)%-(%d+)%-(%d+)%s*$')
    if d then
      local current = merged[d]
      if current == nil then table.insert(domains, d) end
      if current == nil or tonumber(current[2]) < tonumber(n) then merged[d] = {s, n} end
    end
  end
end
add(redis.call('GET', KEYS[1]) or '')
add(ARGV[1])
table.sort(domains, function(a, b) return tonumber(a) < tonumber(b) end)
local parts = {}
for _, d in ipairs(domains) do
  table.insert(parts, d .. '-' .. merged[d][1] .. '-' .. merged[d][2])
end
local value = table.concat(parts, ',')
if value ~= '' then redis.call('SET', KEYS[1], value, 'EX', tonumber(ARGV[2])) end
return value
"""


def merge_into(
    store: RedisStore, key: str, position: str, *, ttl: int, pipe: Pipeline | None = None
) -> None:
    """Merge ``position`` into the one at ``key`` (queued on ``pipe`` if given).

    On a pipeline it is sent as EVAL, the script's text: redis-py sends a pipeline
    holding a registered script with one more round trip first (SCRIPT EXISTS),
    and a cache bump is such a pipeline after every write."""
    if pipe is not None:
        pipe.eval(MERGE_POSITION, 1, key, position, ttl)
        return
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
