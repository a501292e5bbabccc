"""Use cases of tags."""

from __future__ import annotations

from imflask_controllers.context import Context
from imflask_models.mysql import tags as tags_table
from imflask_models.redis import cache

POPULAR_TAGS = 100
POPULAR = "popular"  # the one id of ``cache.TAGS``; ``effects`` says which writes change it


def popular_tags(ctx: Context) -> list[str]:
    """The tags in use, most used first (at most ``POPULAR_TAGS``), through the cache."""

    def load() -> list[str]:
        with ctx.stores.sql.connection() as conn:
            return tags_table.popular_tags(conn, POPULAR_TAGS)

    return cache.cached(ctx.stores.redis, cache.TAGS, POPULAR, load, ttl=ctx.settings.cache_ttl)
