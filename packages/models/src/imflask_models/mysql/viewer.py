"""What one reader has done to a page of articles: favorited them, followed their authors.

One round trip for both, since every authenticated list and feed asks.
"""

from __future__ import annotations

from collections.abc import Iterable

from imflask_models.mysql.database import SqlConnection

SELECT_VIEWER_FLAGS = """
SELECT 'favorited' AS flag, article_id AS id FROM favorites
WHERE user_id = %(viewer)s AND article_id IN %(article_ids)s
UNION ALL
SELECT 'following' AS flag, followed_id AS id FROM follows
WHERE follower_id = %(viewer)s AND followed_id IN %(author_ids)s
"""


def viewer_flags(
    conn: SqlConnection, viewer_id: int, article_ids: Iterable[int], author_ids: Iterable[int]
) -> tuple[set[int], set[int]]:
    """(articles the viewer favorited, authors the viewer follows) among those given."""
    article_ids, author_ids = sorted(set(article_ids)), sorted(set(author_ids))
    if not article_ids or not author_ids:
        return set(), set()
    rows = conn.all(
        SELECT_VIEWER_FLAGS,
        {"viewer": viewer_id, "article_ids": article_ids, "author_ids": author_ids},
    )
    favorited = {row["id"] for row in rows if row["flag"] == "favorited"}
    following = {row["id"] for row in rows if row["flag"] == "following"}
    return favorited, following
