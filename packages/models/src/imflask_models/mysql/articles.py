"""The ``articles`` table: the rows, the newest-first pages and their counts.

Pages use a deferred join: the inner query walks an index to the page's ids
(``LIMIT … OFFSET …`` over index entries only), the outer one fetches just
those rows with their authors. That keeps a deep offset as cheap as the first
page.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from imflask_models.mysql.database import SqlConnection
from imflask_models.mysql.dialect import utcnow


@dataclass(frozen=True)
class ArticleRow:
    id: int
    slug: str
    title: str
    description: str
    body: str | None  # None in lists, which leave the body out
    author_id: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ListedArticle:
    """A list item: the article without its body, and its author (favorites counts are
    read apart: a list page's cache entry does not hold them)."""

    id: int
    slug: str
    title: str
    description: str
    author_id: int
    created_at: datetime
    updated_at: datetime
    author_username: str
    author_bio: str | None
    author_image: str | None


@dataclass(frozen=True)
class ArticleFilters:
    """The list's filters, already resolved to ids (None: not filtered on)."""

    tag_id: int | None = None
    author_id: int | None = None
    favorited_by: int | None = None
    followed_by: int | None = None  # the feed: articles by authors this user follows

    def active(self) -> dict[str, int]:
        return {name: value for name, value in vars(self).items() if value is not None}


INSERT_ARTICLE = """
INSERT INTO articles (slug, title, description, body, author_id, created_at, updated_at)
VALUES (%(slug)s, %(title)s, %(description)s, %(body)s, %(author_id)s, %(now)s, %(now)s)
"""
SELECT_ARTICLE_BY_ID = """
SELECT id, slug, title, description, body, author_id, created_at, updated_at
FROM articles WHERE id = %(id)s
"""
SELECT_EXISTING_IDS = "SELECT id FROM articles WHERE id IN %(ids)s"
SELECT_ARTICLE_BY_SLUG = """
SELECT id, slug, title, description, body, author_id, created_at, updated_at
FROM articles WHERE slug = %(slug)s
"""
UPDATE_ARTICLE = """
UPDATE articles
SET slug = %(slug)s, title = %(title)s, description = %(description)s, body = %(body)s,
    updated_at = %(now)s
WHERE id = %(id)s
"""
DELETE_ARTICLE = "DELETE FROM articles WHERE id = %(id)s"
SELECT_SLUGS_BY_AUTHOR = "SELECT slug FROM articles WHERE author_id = %(author_id)s"

# The list's building blocks; a query is assembled from these constants only,
# never from input, and every value is a bound parameter.
_FILTER_JOINS = {
    "tag_id": "JOIN article_tags at ON at.article_id = a.id AND at.tag_id = %(tag_id)s",
    "favorited_by": "JOIN favorites f ON f.article_id = a.id AND f.user_id = %(favorited_by)s",
    "followed_by": (
        "JOIN follows fo ON fo.followed_id = a.author_id AND fo.follower_id = %(followed_by)s"
    ),
}
_FILTER_WHERE = {"author_id": "a.author_id = %(author_id)s"}

# A list filtered on one link only is counted from that link's index alone: each link's
# article exists (its foreign key cascades on delete), so joining articles adds nothing
# but a row read per match (a tag's 500+ on a list miss).
_LINK_COUNTS = {
    frozenset({"tag_id"}): "SELECT COUNT(*) AS total FROM article_tags WHERE tag_id = %(tag_id)s",
    frozenset({"favorited_by"}): (
        "SELECT COUNT(*) AS total FROM favorites WHERE user_id = %(favorited_by)s"
    ),
}


@cache
def _list_queries(filters: frozenset[str]) -> tuple[str, str]:
    joins = " ".join(_FILTER_JOINS[name] for name in sorted(filters & _FILTER_JOINS.keys()))
    wheres = [_FILTER_WHERE[name] for name in sorted(filters & _FILTER_WHERE.keys())]
    where = f"WHERE {' AND '.join(wheres)}" if wheres else ""
    page = f"""
SELECT a.id, a.slug, a.title, a.description, a.author_id, a.created_at, a.updated_at,
       u.username AS author_username, u.bio AS author_bio, u.image AS author_image
FROM (
    SELECT a.id FROM articles a {joins} {where}
    ORDER BY a.created_at DESC, a.id DESC LIMIT %(limit)s OFFSET %(offset)s
) page
JOIN articles a ON a.id = page.id
JOIN users u ON u.id = a.author_id
ORDER BY a.created_at DESC, a.id DESC
"""  # noqa: S608 - assembled from the constant fragments above
    count = _LINK_COUNTS.get(filters)
    if count is None:
        count = f"SELECT COUNT(*) AS total FROM articles a {joins} {where}"  # noqa: S608
    return page, count


def insert_article(
    conn: SqlConnection, *, slug: str, title: str, description: str, body: str, author_id: int
) -> ArticleRow:
    """Insert and return the row as written; ``DuplicateKey("slug")`` when the slug is taken."""
    now = utcnow()
    result = conn.execute(
        INSERT_ARTICLE,
        {
            "slug": slug,
            "title": title,
            "description": description,
            "body": body,
            "author_id": author_id,
            "now": now,
        },
    )
    assert result.lastrowid is not None
    return ArticleRow(result.lastrowid, slug, title, description, body, author_id, now, now)


def article_by_id(conn: SqlConnection, article_id: int) -> ArticleRow | None:
    row = conn.one(SELECT_ARTICLE_BY_ID, {"id": article_id})
    return None if row is None else ArticleRow(**row)


def existing_ids(conn: SqlConnection, article_ids: list[int]) -> set[int]:
    """Those of the ids that are articles."""
    if not article_ids:
        return set()
    return {row["id"] for row in conn.all(SELECT_EXISTING_IDS, {"ids": article_ids})}


def article_by_slug(conn: SqlConnection, slug: str) -> ArticleRow | None:
    row = conn.one(SELECT_ARTICLE_BY_SLUG, {"slug": slug})
    return None if row is None else ArticleRow(**row)


def update_article(
    conn: SqlConnection, row: ArticleRow, *, slug: str, title: str, description: str, body: str
) -> ArticleRow:
    """Write the new fields of ``row``; return the row as written."""
    now = utcnow()
    conn.execute(
        UPDATE_ARTICLE,
        {
            "id": row.id,
            "slug": slug,
            "title": title,
            "description": description,
            "body": body,
            "now": now,
        },
    )
    return dataclasses.replace(
        row, slug=slug, title=title, description=description, body=body, updated_at=now
    )


def slugs_by_author(conn: SqlConnection, author_id: int) -> list[str]:
    return [row["slug"] for row in conn.all(SELECT_SLUGS_BY_AUTHOR, {"author_id": author_id})]


def delete_article(conn: SqlConnection, article_id: int) -> None:
    """Delete the row; its tags links and favorites go with it (ON DELETE CASCADE)."""
    conn.execute(DELETE_ARTICLE, {"id": article_id})


def article_page(
    conn: SqlConnection, filters: ArticleFilters, *, limit: int, offset: int
) -> list[ListedArticle]:
    """One page of articles matching ``filters``, newest first, without bodies."""
    active = filters.active()
    page_query, _ = _list_queries(frozenset(active))
    rows = conn.all(page_query, {**active, "limit": limit, "offset": offset})
    return [ListedArticle(**row) for row in rows]


def article_count(conn: SqlConnection, filters: ArticleFilters) -> int:
    """How many articles match ``filters``."""
    active = filters.active()
    _, count_query = _list_queries(frozenset(active))
    return conn.scalar(count_query, active)


INSERT_ARTICLE_SEEDED = """
INSERT IGNORE INTO articles (slug, title, description, body, author_id, created_at, updated_at)
VALUES (%(slug)s, %(title)s, %(description)s, %(body)s, %(author_id)s,
        %(created_at)s, %(created_at)s)
"""
SELECT_IDS_BY_SLUGS = "SELECT id, slug FROM articles WHERE slug IN %(slugs)s"


def insert_articles(conn: SqlConnection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Bulk insert (seeding): rows of slug, title, description, body, author_id, created_at.

    Rows whose slug exists are skipped. Returns each slug's id.
    """
    conn.execute_many(INSERT_ARTICLE_SEEDED, rows)
    found = conn.all(SELECT_IDS_BY_SLUGS, {"slugs": [row["slug"] for row in rows]})
    return {row["slug"]: row["id"] for row in found}
