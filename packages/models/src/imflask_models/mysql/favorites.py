"""The ``favorites`` table: which user favorited which article.

Counts are never stored: they are counted from the table through its
``(article_id)`` index, so concurrent favorites cannot lose an update.
"""

from __future__ import annotations

from collections.abc import Iterable

from imflask_models.mysql.database import SqlConnection
from imflask_models.mysql.dialect import utcnow

INSERT_FAVORITE = """
INSERT IGNORE INTO favorites (user_id, article_id, created_at)
VALUES (%(user_id)s, %(article_id)s, %(now)s)
"""
DELETE_FAVORITE = """
DELETE FROM favorites WHERE user_id = %(user_id)s AND article_id = %(article_id)s
"""
COUNT_FAVORITES = """
SELECT article_id, COUNT(*) AS favorites
FROM favorites WHERE article_id IN %(article_ids)s
GROUP BY article_id
"""


def favorite(conn: SqlConnection, *, user_id: int, article_id: int) -> None:
    """Idempotent: favoriting twice leaves one row."""
    conn.execute(INSERT_FAVORITE, {"user_id": user_id, "article_id": article_id, "now": utcnow()})


def unfavorite(conn: SqlConnection, *, user_id: int, article_id: int) -> None:
    conn.execute(DELETE_FAVORITE, {"user_id": user_id, "article_id": article_id})


def favorite_counts(conn: SqlConnection, article_ids: Iterable[int]) -> dict[int, int]:
    article_ids = sorted(set(article_ids))
    if not article_ids:
        return {}
    rows = conn.all(COUNT_FAVORITES, {"article_ids": article_ids})
    counts = dict.fromkeys(article_ids, 0)
    counts.update({row["article_id"]: row["favorites"] for row in rows})
    return counts


def favorite_many(conn: SqlConnection, pairs: list[tuple[int, int]]) -> None:
    """Bulk insert (seeding) of (user_id, article_id) pairs."""
    now = utcnow()
    conn.execute_many(
        INSERT_FAVORITE, [{"user_id": u, "article_id": a, "now": now} for u, a in pairs]
    )
