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

Ids are percent-encoded into key names, and a value that has several parts
(a list page's filters) is named by ``identity(...)``, canonical JSON, so two
different values can never share a key.

Values read from MySQL replicas (``cached_after_writes``, ``cached_many``) may
depend on several generations (a list page: every scope its filters touch),
and each bump also records the replication position of the writes behind it
(``gen-at:``, see ``positions.py``). Their loader is given the position all
those generations were bumped at, and must read from a database that has
applied it (a replica that has, or the primary): so a lagging replica's
answer is never stored under a generation it does not include.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from redis.exceptions import RedisError

from imflask_core.observability import CACHE_LOOKUPS, store_call
from imflask_models import replication
from imflask_models.redis import positions
from imflask_models.redis.client import STORE, RedisStore

K = TypeVar("K", str, int)

log = logging.getLogger(__name__)

GENERATION_TTL = 7 * 24 * 3600  # far longer than any value's TTL


def _part(ident: str | int) -> str:
    """One key part: percent-encoded, so it never contains the ``:`` between parts."""
    return quote(str(ident), safe="")


def identity(**parts: object) -> str:
    """The one name of a value with several parts (canonical JSON: sorted, typed)."""
    return json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class CacheFamily:
    name: str

    def generation_key(self, store: RedisStore, ident: str | int) -> str:
        return store.key("gen", self.name, _part(ident))

    def position_key(self, store: RedisStore, ident: str | int) -> str:
        """The replication position behind the generation of ``ident``."""
        return store.key("gen-at", self.name, _part(ident))

    def value_key(self, store: RedisStore, ident: str | int) -> str:
        return store.key("cache", self.name, _part(ident))


ARTICLE = CacheFamily("article")  # the public part of one article and its author, by slug
PROFILE = CacheFamily("profile")  # a user's public profile, by username
TAGS = CacheFamily("tags")  # the popular tags list, one id (``caches.POPULAR_TAGS``)
# The public part of a list page (its articles, their tags, the total that match), by
# filters, limit and offset; its generations are scopes (every list, one tag's lists,
# one author's...): ``imflask_controllers.lists`` says which write bumps which.
ARTICLE_LISTS = CacheFamily("article-lists")
# One article's favorites count, by article id: list pages show these, read apart from
# the page so that a favorite changes one count, not every page that shows it.
FAVORITES_COUNT = CacheFamily("favorites-count")
# A signed-in user's account row (no password hash), by user id: every authenticated
# request reads it, in the same round trip as its token's revocation mark.
SIGNED_IN_USER = CacheFamily("signed-in-user")


def cached(
    store: RedisStore,
    family: CacheFamily,
    ident: str | int,
    load: Callable[[], Any],
    *,
    ttl: int,
) -> Any:
    """The cached value, or ``load()``'s (stored unless it is None)."""
    return cached_alongside(store, family, ident, load, keys=(), ttl=ttl)[0]


def cached_alongside(
    store: RedisStore,
    family: CacheFamily,
    ident: str | int,
    load: Callable[[], Any],
    *,
    keys: Sequence[str],
    ttl: int,
) -> tuple[Any, list[str | None] | None]:
    """``cached``, reading ``keys`` (full names, ``store.key(...)``) in the same MGET:
    (the value, those keys' values), or (``load()``, None) if Redis did not answer."""
    if not store.breaker.allows():
        return load(), None
    key = family.value_key(store, ident)
    try:
        with store_call(STORE):
            epoch, generation, raw, *others = store.client.mget(
                store.cache_epoch_key(), family.generation_key(store, ident), key, *keys
            )
    except RedisError as error:
        store.breaker.failed(error)
        return load(), None
    epoch, generation = int(epoch or 0), int(generation or 0)
    if raw is not None:
        entry = json.loads(raw)
        if entry.get("e") == epoch and entry["g"] == generation:
            CACHE_LOOKUPS.labels(family.name, "hit").inc()
            return entry["v"], others  # pyright: ignore[reportReturnType] -- decode_responses=True: Redis answers str, never bytes
    CACHE_LOOKUPS.labels(family.name, "miss").inc()
    value = load()
    if value is not None:
        _store(store, [(key, {"e": epoch, "g": generation, "v": value})], ttl)
    return value, others  # pyright: ignore[reportReturnType] -- decode_responses=True: Redis answers str, never bytes


def invalidate(store: RedisStore, family: CacheFamily, *idents: str | int) -> None:
    """Make every cached value of these ids stale; call after the commit.

    Skipped while the breaker is open, and any error opens it: either way the
    probe's epoch bump stands in for this before the cache is used again.
    """
    if not idents or not store.breaker.allows():
        return
    written = replication.written()  # None without replicas: nothing more to do
    try:
        pipe = store.client.pipeline(transaction=False)
        if written:  # one script for every id: a new article's bump has 20 or more
            pairs = [
                (family.generation_key(store, ident), family.position_key(store, ident))
                for ident in sorted(set(idents), key=str)
            ]
            positions.bump_with_position(
                pipe, pairs, written, ttl=GENERATION_TTL, position_ttl=GENERATION_TTL
            )
        else:
            for ident in set(idents):
                key = family.generation_key(store, ident)
                pipe.incr(key)
                pipe.expire(key, GENERATION_TTL)
        with store_call(STORE):
            pipe.execute()
    except RedisError as error:  # any: even an error reply leaves the old value readable
        store.breaker.failed(error)


def cached_after_writes(
    store: RedisStore,
    family: CacheFamily,
    ident: str,
    load: Callable[[str | None], Any],
    *,
    scopes: Sequence[str],
    ttl: int,
) -> Any:
    """Like ``cached``, for a value that changes with any of the generations of ``scopes``
    and is read from a replica: ``load(position)`` must read from a database that has
    applied ``position`` (None: any), the writes behind those generations."""
    if not store.breaker.allows():
        return load(None)
    key = family.value_key(store, ident)
    names = [family.generation_key(store, scope) for scope in scopes]
    names += [family.position_key(store, scope) for scope in scopes]
    try:
        with store_call(STORE):
            epoch, *found, raw = store.client.mget(store.cache_epoch_key(), *names, key)
    except RedisError as error:
        store.breaker.failed(error)
        return load(None)
    epoch = int(epoch or 0)
    generations = [int(found[i] or 0) for i in range(len(scopes))]
    if raw is not None:
        entry = json.loads(raw)
        if entry.get("e") == epoch and entry["g"] == generations:
            CACHE_LOOKUPS.labels(family.name, "hit").inc()
            return entry["v"]
    CACHE_LOOKUPS.labels(family.name, "miss").inc()
    value = load(replication.merge(*found[len(scopes) :]))  # pyright: ignore[reportArgumentType] -- decode_responses=True: Redis answers str, never bytes
    if value is not None:
        _store(store, [(key, {"e": epoch, "g": generations, "v": value})], ttl)
    return value


def cached_many(
    store: RedisStore,
    family: CacheFamily,
    idents: Sequence[K],
    load: Callable[[list[K], str | None], dict[K, Any]],
    *,
    ttl: int,
) -> dict[K, Any]:
    """Many values of one family in one round trip; the missing ones from one
    ``load(missing, position)`` (see ``cached_after_writes`` for ``position``)."""
    if not idents:
        return {}
    if not store.breaker.allows():
        return load(list(idents), None)
    names = [store.cache_epoch_key()]
    for ident in idents:
        names += [
            family.generation_key(store, ident),
            family.position_key(store, ident),
            family.value_key(store, ident),
        ]
    try:
        with store_call(STORE):
            epoch, *found = store.client.mget(*names)
    except RedisError as error:
        store.breaker.failed(error)
        return load(list(idents), None)
    epoch = int(epoch or 0)
    values: dict[K, Any] = {}
    missing: list[tuple[K, int, str | None]] = []
    for index, ident in enumerate(idents):
        generation, position, raw = found[3 * index : 3 * index + 3]
        generation = int(generation or 0)
        if raw is not None:
            entry = json.loads(raw)
            if entry.get("e") == epoch and entry["g"] == generation:
                values[ident] = entry["v"]
                continue
        missing.append((ident, generation, position))  # pyright: ignore[reportArgumentType] -- decode_responses=True: Redis answers str, never bytes
    CACHE_LOOKUPS.labels(family.name, "hit").inc(len(values))
    if missing:
        CACHE_LOOKUPS.labels(family.name, "miss").inc(len(missing))
        loaded = load([m[0] for m in missing], replication.merge(*(m[2] for m in missing)))
        entries = []
        for ident, generation, _ in missing:
            if loaded.get(ident) is not None:
                values[ident] = loaded[ident]
                entry = {"e": epoch, "g": generation, "v": loaded[ident]}
                entries.append((family.value_key(store, ident), entry))
        _store(store, entries, ttl)
    return values


def _store(store: RedisStore, entries: list[tuple[str, dict]], ttl: int) -> None:
    """SET each entry with its TTL in one round trip (errors open the breaker)."""
    if not entries:
        return
    try:
        pipe = store.client.pipeline(transaction=False)
        for key, entry in entries:
            pipe.set(key, json.dumps(entry, separators=(",", ":")), ex=ttl)
        with store_call(STORE):
            pipe.execute()
    except RedisError as error:
        store.breaker.failed(error)
