"""The ``idempotency_keys`` table: the first answer to a request sent with a key.

A key is claimed (a row without an answer) before the request runs, and the
answer stored once it has one; a retry of the same request finds the answer.
``scope`` and ``fingerprint`` are digests the caller computes (who, where and
the key; the request's body).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from imflask_models.errors import DuplicateKey
from imflask_models.mysql.database import SqlConnection
from imflask_models.mysql.dialect import utcnow


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: str
    status: int | None  # None: the first request has not answered yet
    response: str | None
    created_at: datetime


INSERT_CLAIM = """
INSERT INTO idempotency_keys (scope, fingerprint, created_at)
VALUES (%(scope)s, %(fingerprint)s, %(now)s)
"""
SELECT_ANSWER = """
SELECT fingerprint, status, response, created_at FROM idempotency_keys WHERE scope = %(scope)s
"""
UPDATE_ANSWER = """
UPDATE idempotency_keys SET status = %(status)s, response = %(response)s
WHERE scope = %(scope)s AND status IS NULL
"""
DELETE_CLAIM = "DELETE FROM idempotency_keys WHERE scope = %(scope)s AND status IS NULL"
DELETE_ROW = "DELETE FROM idempotency_keys WHERE scope = %(scope)s AND created_at = %(created_at)s"
DELETE_OLD = "DELETE FROM idempotency_keys WHERE created_at < %(before)s"


def claim(conn: SqlConnection, *, scope: str, fingerprint: str) -> StoredAnswer | None:
    """Claim the key for a first request (None), or return what an earlier one left."""
    try:
        conn.execute(INSERT_CLAIM, {"scope": scope, "fingerprint": fingerprint, "now": utcnow()})
        return None
    except DuplicateKey:
        row = conn.one(SELECT_ANSWER, {"scope": scope})
    if row is None:  # released in between: the caller may try again
        return claim(conn, scope=scope, fingerprint=fingerprint)
    return StoredAnswer(row["fingerprint"], row["status"], row["response"], row["created_at"])


def store_answer(conn: SqlConnection, *, scope: str, status: int, response: str) -> None:
    conn.execute(UPDATE_ANSWER, {"scope": scope, "status": status, "response": response})


def release(conn: SqlConnection, *, scope: str) -> None:
    """Drop a claim that got no answer (the request failed before writing anything)."""
    conn.execute(DELETE_CLAIM, {"scope": scope})


def forget(conn: SqlConnection, *, scope: str, created_at: datetime) -> None:
    """Drop the row of ``scope`` seen with ``created_at`` (not a newer claim of it)."""
    conn.execute(DELETE_ROW, {"scope": scope, "created_at": created_at})


def delete_before(conn: SqlConnection, before: datetime) -> int:
    return conn.execute(DELETE_OLD, {"before": before}).rowcount
