"""Use cases of tags."""

from __future__ import annotations

from imflask_controllers import caches
from imflask_controllers.context import Context
from imflask_models.mysql import tags as tags_table

POPULAR_TAGS = 100


def popular_tags(ctx: Context) -> list[str]:
    """The tags in use, most used first (at most ``POPULAR_TAGS``), through the cache."""

    def load() -> list[str]:
        with ctx.stores.sql.connection() as conn:
            return tags_table.popular_tags(conn, POPULAR_TAGS)

    return caches.popular_tags(ctx, load)
