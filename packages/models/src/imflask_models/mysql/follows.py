"""The ``follows`` table: who follows whom."""

from __future__ import annotations

from collections.abc import Iterable

from imflask_models.mysql.database import SqlConnection
from imflask_models.mysql.dialect import utcnow

INSERT_FOLLOW = """
INSERT IGNORE INTO follows (follower_id, followed_id, created_at)
VALUES (%(follower_id)s, %(followed_id)s, %(now)s)
"""
DELETE_FOLLOW = """
DELETE FROM follows WHERE follower_id = %(follower_id)s AND followed_id = %(followed_id)s
"""
SELECT_FOLLOWED_AMONG = """
SELECT followed_id FROM follows
WHERE follower_id = %(follower_id)s AND followed_id IN %(candidates)s
"""


def follow(conn: SqlConnection, *, follower_id: int, followed_id: int) -> None:
    """Idempotent: following twice leaves one row."""
    conn.execute(
        INSERT_FOLLOW, {"follower_id": follower_id, "followed_id": followed_id, "now": utcnow()}
    )


def unfollow(conn: SqlConnection, *, follower_id: int, followed_id: int) -> None:
    conn.execute(DELETE_FOLLOW, {"follower_id": follower_id, "followed_id": followed_id})


def followed_among(conn: SqlConnection, follower_id: int, candidates: Iterable[int]) -> set[int]:
    """Which of ``candidates`` the follower follows."""
    candidates = sorted(set(candidates))
    if not candidates:
        return set()
    rows = conn.all(SELECT_FOLLOWED_AMONG, {"follower_id": follower_id, "candidates": candidates})
    return {row["followed_id"] for row in rows}


def follow_many(conn: SqlConnection, pairs: list[tuple[int, int]]) -> None:
    """Bulk insert (seeding) of (follower_id, followed_id) pairs."""
    now = utcnow()
    conn.execute_many(
        INSERT_FOLLOW, [{"follower_id": a, "followed_id": b, "now": now} for a, b in pairs]
    )


SELECT_FOLLOWERS_AFTER = """
SELECT follower_id FROM follows
WHERE followed_id = %(followed_id)s AND follower_id > %(after)s
ORDER BY follower_id
LIMIT %(limit)s
"""


def follower_ids(conn: SqlConnection, followed_id: int, *, after: int, limit: int) -> list[int]:
    """One batch of a user's followers, by id after ``after`` (keyset pagination)."""
    params = {"followed_id": followed_id, "after": after, "limit": limit}
    return [row["follower_id"] for row in conn.all(SELECT_FOLLOWERS_AFTER, params)]
