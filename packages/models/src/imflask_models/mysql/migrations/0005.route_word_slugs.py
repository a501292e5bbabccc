"""Articles whose slug is a route word move to ``<word>-article-<id>``.

Until this release a title "Feed" got the slug ``feed``, which ``GET /api/articles/feed``
(and the pages' routes) hide: the article could not be read. New slugs never are a
route word (``imflask_controllers.slugs.ROUTE_WORDS``); these are the words of this
release, so a later route word comes with a migration of its own.
"""

from typing import Any

from yoyo import step

from imflask_models.mysql.dialect import dialect_of

ROUTE_WORDS = ("feed",)


def _rename(raw: Any) -> None:
    dialect = dialect_of(raw)
    cursor = raw.cursor()
    try:
        for word in ROUTE_WORDS:
            cursor.execute(*dialect.bind("SELECT id FROM articles WHERE slug = %(slug)s",
                                         {"slug": word}))  # fmt: skip
            for (article_id,) in cursor.fetchall():
                renamed = {"slug": f"{word}-article-{article_id}", "id": article_id}
                cursor.execute(*dialect.bind(
                    "UPDATE articles SET slug = %(slug)s WHERE id = %(id)s", renamed
                ))  # fmt: skip
    finally:
        cursor.close()


step(_rename)  # data only: nothing to undo
