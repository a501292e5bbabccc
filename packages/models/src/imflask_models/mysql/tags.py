"""The ``tags`` and ``article_tags`` tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from imflask_models.mysql.database import SqlConnection

INSERT_TAG = "INSERT IGNORE INTO tags (name) VALUES (%(name)s)"
SELECT_TAG_IDS = "SELECT id, name FROM tags WHERE name IN %(names)s"
INSERT_ARTICLE_TAG = """
INSERT IGNORE INTO article_tags (article_id, tag_id) VALUES (%(article_id)s, %(tag_id)s)
"""
SELECT_TAG_IDS_OF_ARTICLE = "SELECT tag_id FROM article_tags WHERE article_id = %(article_id)s"
DELETE_ARTICLE_TAGS_BY_ID = """
DELETE FROM article_tags WHERE article_id = %(article_id)s AND tag_id IN %(tag_ids)s
"""
# Driven from article_tags' primary key whatever the table statistics say (a JOIN with
# ORDER BY name let MariaDB walk every tag instead after a bulk load).
SELECT_TAGS_OF_ARTICLES = """
SELECT at.article_id, (SELECT t.name FROM tags t WHERE t.id = at.tag_id) AS name
FROM article_tags at
WHERE at.article_id IN %(article_ids)s
"""
SELECT_POPULAR_TAGS = """
SELECT t.name, COUNT(*) AS uses
FROM article_tags at JOIN tags t ON t.id = at.tag_id
GROUP BY t.id, t.name
ORDER BY uses DESC, t.name
LIMIT %(limit)s
"""


# Lock order: tag rows are always created and linked in ascending order (names, then
# ids), so two writers sharing tags wait for each other instead of deadlocking, and
# nothing is deleted before an insert: a DELETE that matches no row takes a gap lock
# on InnoDB that makes two concurrent inserts into that gap deadlock.


def ensure_tags(conn: SqlConnection, names: Iterable[str]) -> dict[str, int]:
    """Create the tags that do not exist yet (race-safe: INSERT IGNORE); every name's id.

    Run it outside the article's transaction: a tag nobody uses yet is harmless,
    and its row locks then last one statement instead of the whole write.
    """
    names = sorted(set(names))
    if not names:
        return {}
    conn.execute_many(INSERT_TAG, [{"name": name} for name in names])
    return {row["name"]: row["id"] for row in conn.all(SELECT_TAG_IDS, {"names": names})}


def add_article_tags(conn: SqlConnection, article_id: int, tag_ids: Iterable[int]) -> None:
    """Link tags (ids from ``ensure_tags``) to an article, in ascending id order."""
    rows = [{"article_id": article_id, "tag_id": tag_id} for tag_id in sorted(set(tag_ids))]
    conn.execute_many(INSERT_ARTICLE_TAG, rows)


def replace_article_tags(conn: SqlConnection, article_id: int, tag_ids: Iterable[int]) -> None:
    """Make an existing article's tags exactly ``tag_ids``: unlink the others, link the new."""
    wanted = set(tag_ids)
    current = {
        row["tag_id"] for row in conn.all(SELECT_TAG_IDS_OF_ARTICLE, {"article_id": article_id})
    }
    if gone := sorted(current - wanted):
        conn.execute(DELETE_ARTICLE_TAGS_BY_ID, {"article_id": article_id, "tag_ids": gone})
    add_article_tags(conn, article_id, wanted - current)


def tags_of_articles(conn: SqlConnection, article_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each article's tag names, sorted alphabetically."""
    article_ids = sorted(set(article_ids))
    tags: dict[int, list[str]] = defaultdict(list)
    if article_ids:
        for row in conn.all(SELECT_TAGS_OF_ARTICLES, {"article_ids": article_ids}):
            tags[row["article_id"]].append(row["name"])
    for names in tags.values():
        names.sort()
    return tags


def popular_tags(conn: SqlConnection, limit: int) -> list[str]:
    """Tags in use, most used first."""
    return [row["name"] for row in conn.all(SELECT_POPULAR_TAGS, {"limit": limit})]


SELECT_TAG_ID = "SELECT id FROM tags WHERE name = %(name)s"


def tag_id_by_name(conn: SqlConnection, name: str) -> int | None:
    return conn.scalar(SELECT_TAG_ID, {"name": name})


def link_tags(conn: SqlConnection, links: list[tuple[int, int]]) -> None:
    """Bulk insert (seeding) of (article_id, tag_id) pairs."""
    conn.execute_many(INSERT_ARTICLE_TAG, [{"article_id": a, "tag_id": t} for a, t in links])
