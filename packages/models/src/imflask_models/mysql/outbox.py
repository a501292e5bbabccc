"""The ``outbox`` table: background jobs recorded in the transaction of their write.

A job row is pending until the job has run (``done_at``). The relay
(``imflask_controllers.background.relay``) hands pending rows to the queue
again whenever the queue no longer holds them, so a job is as durable as
the write that caused it; jobs are idempotent, so a second run is harmless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from imflask_models.mysql.database import SqlConnection
from imflask_models.mysql.dialect import utcnow


@dataclass(frozen=True)
class OutboxJob:
    id: int
    job: str
    kwargs: dict[str, Any]
    request_id: str | None
    trace_context: dict[str, str] | None = None  # W3C trace context headers


INSERT_JOB = """
INSERT INTO outbox (job, kwargs, request_id, trace_context, created_at)
VALUES (%(job)s, %(kwargs)s, %(request_id)s, %(trace_context)s, %(now)s)
"""
SELECT_PENDING = """
SELECT id, job, kwargs, request_id, trace_context FROM outbox
WHERE done_at IS NULL AND id > %(after)s AND created_at < %(created_before)s
ORDER BY id LIMIT %(limit)s
"""
MARK_DONE = "UPDATE outbox SET done_at = %(now)s WHERE id IN %(ids)s AND done_at IS NULL"
COUNT_PENDING = "SELECT COUNT(*) AS pending FROM outbox WHERE done_at IS NULL"
DELETE_DONE = "DELETE FROM outbox WHERE done_at IS NOT NULL AND done_at < %(before)s"


def add_job(
    conn: SqlConnection,
    *,
    job: str,
    kwargs: dict[str, Any],
    request_id: str | None,
    trace_context: dict[str, str] | None = None,
) -> int:
    """Record a job (inside the write's transaction); return its outbox id."""
    result = conn.execute(
        INSERT_JOB,
        {
            "job": job,
            "kwargs": json.dumps(kwargs),
            "request_id": request_id,
            "trace_context": json.dumps(trace_context) if trace_context else None,
            "now": utcnow(),
        },
    )
    assert result.lastrowid is not None
    return result.lastrowid


def pending_jobs(
    conn: SqlConnection, *, created_before: datetime, after: int = 0, limit: int = 500
) -> list[OutboxJob]:
    """Jobs not yet done, oldest first, recorded before ``created_before``."""
    rows = conn.all(
        SELECT_PENDING, {"after": after, "created_before": created_before, "limit": limit}
    )
    return [
        OutboxJob(
            row["id"],
            row["job"],
            json.loads(row["kwargs"]),
            row["request_id"],
            json.loads(row["trace_context"]) if row["trace_context"] else None,
        )
        for row in rows
    ]


def mark_done(conn: SqlConnection, ids: list[int]) -> None:
    if ids:
        conn.execute(MARK_DONE, {"ids": ids, "now": utcnow()})


def pending_count(conn: SqlConnection) -> int:
    return conn.scalar(COUNT_PENDING)


def delete_done(conn: SqlConnection, *, before: datetime) -> int:
    """Forget jobs done before ``before``; return how many."""
    return conn.execute(DELETE_DONE, {"before": before}).rowcount
