"""The cached entries the use cases read, one function per family, and their invalidations.

A use case reads through ``caches.article(ctx, slug, load)`` and the like;
only ``effects`` forgets entries, after a commit. Each family's id and TTL
live here; the list pages and favorites counts are ``lists``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from imflask_controllers.context import Context
from imflask_models.redis import cache

POPULAR_TAGS = "popular"  # the one id of ``cache.TAGS``
T = TypeVar("T")  # what ``load`` returns: JSON-shaped, as the cache gives it back


def article(ctx: Context, slug: str, load: Callable[[], T]) -> T:
    """The public part of one article and its author, by slug."""
    return _cached(ctx, cache.ARTICLE, slug, load)


def profile(ctx: Context, username: str, load: Callable[[], T]) -> T:
    """A user's public profile, by username."""
    return _cached(ctx, cache.PROFILE, username, load)


def popular_tags(ctx: Context, load: Callable[[], list[str]]) -> list[str]:
    return _cached(ctx, cache.TAGS, POPULAR_TAGS, load)


def signed_in_user(
    ctx: Context, user_id: int, load: Callable[[], T], *, alongside: list[str]
) -> tuple[T, list[str | None] | None]:
    """A signed-in user's account (no password hash), by id, and the Redis keys
    ``alongside`` read in the same round trip (None: Redis did not answer)."""
    return cache.cached_alongside(
        ctx.stores.redis,
        cache.SIGNED_IN_USER,
        user_id,
        load,
        keys=alongside,
        ttl=ctx.settings.cache_ttl,
    )


def forget_articles(ctx: Context, *slugs: str) -> None:
    cache.invalidate(ctx.stores.redis, cache.ARTICLE, *slugs)


def forget_profiles(ctx: Context, *usernames: str) -> None:
    cache.invalidate(ctx.stores.redis, cache.PROFILE, *usernames)


def forget_signed_in_user(ctx: Context, user_id: int) -> None:
    cache.invalidate(ctx.stores.redis, cache.SIGNED_IN_USER, user_id)


def forget_popular_tags(ctx: Context) -> None:
    cache.invalidate(ctx.stores.redis, cache.TAGS, POPULAR_TAGS)


def _cached(ctx: Context, family: cache.CacheFamily, ident: str, load: Callable[[], Any]) -> Any:
    return cache.cached(ctx.stores.redis, family, ident, load, ttl=ctx.settings.cache_ttl)
