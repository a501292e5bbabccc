"""Cache-aside over Redis with generation counters, degrading to the loader.

A value is stored as ``{"g": generation, "v": value}`` under
``cache:<family>:<id>``; writers bump ``gen:<family>:<id>`` after their change
is committed. A reader fetches both keys in one MGET and trusts the value only
if its generation is the current one. A reader that raced a writer can only
store what it read under the old generation, which the next reader refuses,
so a read after a write never sees the old value. If Redis does not answer,
reads go to the loader and nothing fails.

An invalidation that could not be made (Redis failed, or this process's
breaker was open and skipped it) must not leave the old value readable once
Redis answers again, in this process or any other. So every value also
carries the cache epoch it was stored under, read in the same MGET, and the
only way out of an open Redis breaker is its probe, which bumps the epoch
(``RedisStore.bump_cache_epoch``): everything cached before is refused from
then on. The probe runs in the background every ``CircuitBreaker.retry_every``
seconds, so other instances, which never saw the failure, may serve an old
value only between Redis answering again and that probe (for a paused Redis,
the probe already waiting is answered first; at most ``retry_every`` after a
restart). A process that dies while its breaker is open leaves its skipped
invalidations to the TTL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from imflask_core.observability import store_call
from imflask_models.redis.client import STORE, RedisStore

log = logging.getLogger(__name__)

GENERATION_TTL = 7 * 24 * 3600  # far longer than any value's TTL


@dataclass(frozen=True)
class CacheFamily:
    name: str
    # One generation for the whole family: any write that may change any value bumps it.
    shared_generation: bool = False

    def generation_key(self, store: RedisStore, ident: str | int) -> str:
        if self.shared_generation:
            return store.key("gen", self.name)
        return store.key("gen", self.name, ident)

    def value_key(self, store: RedisStore, ident: str | int) -> str:
        return store.key("cache", self.name, ident)


ARTICLE = CacheFamily("article")  # the public part of one article and its author, by slug
PROFILE = CacheFamily("profile")  # a user's public profile, by username
TAGS = CacheFamily("tags")  # the popular tags list, one id: "popular"
# The public part of a list page (its articles, their tags, the total that match), by
# filters, limit and offset: one generation for all, bumped by any write a list shows.
ARTICLE_LISTS = CacheFamily("article-lists", shared_generation=True)


def cached(
    store: RedisStore,
    family: CacheFamily,
    ident: str | int,
    load: Callable[[], Any],
    *,
    ttl: int,
) -> Any:
    """The cached value, or ``load()``'s (stored unless it is None)."""
    if not store.breaker.allows():
        return load()
    key = family.value_key(store, ident)
    try:
        with store_call(STORE):
            epoch, generation, raw = store.client.mget(
                store.cache_epoch_key(), family.generation_key(store, ident), key
            )
    except RedisError as error:
        store.breaker.failed(error)
        return load()
    epoch, generation = int(epoch or 0), int(generation or 0)
    if raw is not None:
        entry = json.loads(raw)
        if entry.get("e") == epoch and entry["g"] == generation:
            return entry["v"]
    value = load()
    if value is not None:
        try:
            entry = json.dumps({"e": epoch, "g": generation, "v": value}, separators=(",", ":"))
            with store_call(STORE):
                store.client.set(key, entry, ex=ttl)
        except RedisError as error:
            store.breaker.failed(error)
    return value


def invalidate(store: RedisStore, family: CacheFamily, *idents: str | int) -> None:
    """Make every cached value of these ids stale; call after the commit.

    Skipped while the breaker is open, and any error opens it: either way the
    probe's epoch bump stands in for this before the cache is used again.
    """
    if not idents or not store.breaker.allows():
        return
    try:
        pipe = store.client.pipeline(transaction=False)
        for key in {family.generation_key(store, ident) for ident in idents}:
            pipe.incr(key)
            pipe.expire(key, GENERATION_TTL)
        with store_call(STORE):
            pipe.execute()
    except RedisError as error:  # any: even an error reply leaves the old value readable
        store.breaker.failed(error)
