"""The ``idempotency_keys`` table: the first answer to a request sent with a key.

A row is written in the same transaction as the request's writes (claimed
first, its answer stored last), so a committed row always has its answer.
``scope`` and ``fingerprint`` are digests the caller computes (who, where and
the key; the request's body).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from imflask_models.mysql.database import SqlConnection
from imflask_models.mysql.dialect import utcnow


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: str
    status: int
    response: str


INSERT_CLAIM = """
INSERT INTO idempotency_keys (scope, fingerprint, created_at)
VALUES (%(scope)s, %(fingerprint)s, %(now)s)
"""
SELECT_ANSWER = """
SELECT fingerprint, status, response FROM idempotency_keys
WHERE scope = %(scope)s AND created_at >= %(kept_since)s AND status IS NOT NULL
"""
UPDATE_ANSWER = """
UPDATE idempotency_keys SET status = %(status)s, response = %(response)s WHERE scope = %(scope)s
"""
DELETE_EXPIRED = """
DELETE FROM idempotency_keys WHERE scope = %(scope)s AND created_at < %(kept_since)s
"""
DELETE_OLD = "DELETE FROM idempotency_keys WHERE created_at < %(before)s"


def claim(conn: SqlConnection, *, scope: str, fingerprint: str) -> None:
    """Take the key inside the request's transaction; ``DuplicateKey("scope")`` if taken."""
    conn.execute(INSERT_CLAIM, {"scope": scope, "fingerprint": fingerprint, "now": utcnow()})


def answer_of(conn: SqlConnection, *, scope: str, kept_since: datetime) -> StoredAnswer | None:
    row = conn.one(SELECT_ANSWER, {"scope": scope, "kept_since": kept_since})
    return None if row is None else StoredAnswer(row["fingerprint"], row["status"], row["response"])


def store_answer(conn: SqlConnection, *, scope: str, status: int, response: str) -> None:
    conn.execute(UPDATE_ANSWER, {"scope": scope, "status": status, "response": response})


def forget_expired(conn: SqlConnection, *, scope: str, kept_since: datetime) -> None:
    """Drop the key's row if it is older than ``kept_since`` (the key may be used again)."""
    conn.execute(DELETE_EXPIRED, {"scope": scope, "kept_since": kept_since})


def delete_before(conn: SqlConnection, before: datetime) -> int:
    return conn.execute(DELETE_OLD, {"before": before}).rowcount
