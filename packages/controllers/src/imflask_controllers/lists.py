"""The list cache's generations: what a list page depends on, what each write makes stale.

A cached list page (``articles.list_articles``, ``articles.feed``) is valid
while every generation of its scopes is unchanged:

| page | scopes (one per filter given) |
| --- | --- |
| ``/articles`` (no filter) | ``every``, ``all`` |
| ``?tag=t&author=a&favorited=f`` | ``every``, then ``tag:t``, ``author:a``, ``favorited:f`` |
| the feed of user ``v`` | ``every``, ``feeds``, ``feed:v`` |

and each write bumps only the scopes whose pages it changes:

| write | bumps |
| --- | --- |
| new article by ``a``, tags ``t…`` | ``all``, ``tag:t`` each, ``author:a``, followers' ``feed:f`` |
| favorite, unfavorite by ``u`` | ``favorited:u``, ``feed:u`` (and that article's count) |
| follow, unfollow by ``v`` | ``feed:v`` |
| article updated or deleted, profile changed, seeding | ``every`` |

(An author with more than ``FEED_BUMPS`` followers bumps ``feeds`` instead of each feed.)

Favorites counts are not part of a page: each article's count is cached on its
own (``cache.FAVORITES_COUNT``) and read with the page, so a favorite changes
one count and the favoriting user's own lists, never every page of the site.
A page's viewer flags (``favorited``, ``following``) are read per request,
except on the feed, which only its owner reads and whose page keeps them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from imflask_controllers.context import Context
from imflask_core.errors import StoreUnavailable
from imflask_models.mysql import follows
from imflask_models.redis import cache

log = logging.getLogger(__name__)

EVERY = "every"  # every page: writes that change what any list item shows
ALL = "all"  # the unfiltered list
FEEDS = "feeds"  # every feed: bumped instead of each follower's past FEED_BUMPS of them
# A new article bumps the feed of each of its author's followers, read after the commit
# (a follow or unfollow in between bumps that feed itself); an author with more followers
# than this bumps every feed instead, one INCR rather than thousands.
FEED_BUMPS = 1000
T = TypeVar("T")  # a page as ``load`` makes it: JSON-shaped, as the cache gives it back


def tag(name: str) -> str:
    return f"tag:{name}"


def author(username: str) -> str:
    return f"author:{username}"


def favorited(username: str) -> str:
    return f"favorited:{username}"


def feed(user_id: int) -> str:
    return f"feed:{user_id}"


def page_scopes(*, tag_name: str | None, author_name: str | None, favorited_by: str | None):
    """The scopes of a list page with these filters (see the table above)."""
    filters = [
        make(value)
        for make, value in ((tag, tag_name), (author, author_name), (favorited, favorited_by))
        if value
    ]
    return [EVERY, *(filters or [ALL])]


def feed_scopes(user_id: int) -> list[str]:
    return [EVERY, FEEDS, feed(user_id)]


def cached_page(
    ctx: Context, parts: dict[str, Any], scopes: Sequence[str], load: Callable[[str | None], T]
) -> T:
    """A list page's public part, by its filters and paging (``parts``), valid while its
    ``scopes`` are unchanged; ``load(position)`` reads it (see ``cache.cached_after_writes``)."""
    return cache.cached_after_writes(
        ctx.stores.redis,
        cache.ARTICLE_LISTS,
        cache.identity(**parts),
        load,
        scopes=scopes,
        ttl=ctx.settings.cache_ttl,
    )


def cached_favorites_counts(
    ctx: Context, ids: list[int], load: Callable[[list[int], str | None], dict[int, int]]
) -> dict[int, int]:
    """Each listed article's favorites count, in one round trip; ``load(missing, position)``."""
    return cache.cached_many(
        ctx.stores.redis, cache.FAVORITES_COUNT, ids, load, ttl=ctx.settings.cache_ttl
    )


# What each write makes stale (the second table above); ``effects`` calls these.


def article_published(
    ctx: Context, *, author_id: int, author_name: str, tags: Iterable[str]
) -> None:
    _bump(ctx, ALL, author(author_name), *(tag(name) for name in tags), *_feeds_of(ctx, author_id))


def _feeds_of(ctx: Context, author_id: int) -> list[str]:
    """The feeds a new article of the author is in: their followers' (or ``feeds``)."""
    try:
        with ctx.stores.sql.connection() as conn:
            followers = follows.follower_ids(conn, author_id, after=0, limit=FEED_BUMPS + 1)
    except StoreUnavailable as error:  # the article is committed: stale feeds are worse
        log.warning("followers of user %s not read, every feed made stale: %s", author_id, error)
        return [FEEDS]
    if len(followers) > FEED_BUMPS:
        return [FEEDS]
    return [feed(follower) for follower in followers]


def favorite_changed(ctx: Context, *, username: str, user_id: int, article_id: int) -> None:
    _bump(ctx, favorited(username), feed(user_id))
    cache.invalidate(ctx.stores.redis, cache.FAVORITES_COUNT, article_id)


def follows_changed(ctx: Context, *, follower_id: int) -> None:
    _bump(ctx, feed(follower_id))


def everything_changed(ctx: Context) -> None:
    """An article was updated or deleted, a profile changed: any page may show it."""
    _bump(ctx, EVERY)


def _bump(ctx: Context, *scopes: str) -> None:
    cache.invalidate(ctx.stores.redis, cache.ARTICLE_LISTS, *scopes)
