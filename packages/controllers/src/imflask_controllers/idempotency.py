"""Idempotency keys: a request sent again with the same key gets the first answer.

The HTTP layer computes a ``scope`` (who sent it, where, and the key) and a
``fingerprint`` (the body), claims the scope before running the request, and
stores the answer after it. A retry then finds the answer; the same key with
another body is refused; a retry that arrives while the first request still
runs is told to wait. A request that failed (nothing written) releases its
claim. Only a process that dies between its commit and storing the answer
leaves a claim without one: after ``IN_FLIGHT_LEASE`` a retry runs again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from imflask_controllers.context import Context
from imflask_controllers.errors import Conflict, Invalid
from imflask_core.errors import StoreUnavailable
from imflask_models.mysql import idempotency as keys
from imflask_models.mysql.dialect import utcnow

log = logging.getLogger(__name__)

FIELD = "Idempotency-Key"
# Longer than any request may run (gunicorn's timeout is 30 s).
IN_FLIGHT_LEASE = timedelta(seconds=60)
KEEP_FOR = timedelta(hours=24)  # then a key may be used again; `flask db prune` forgets it


@dataclass(frozen=True)
class EarlierAnswer:
    status: int
    body: str


def claim(ctx: Context, *, scope: str, fingerprint: str) -> EarlierAnswer | None:
    """None: this request is the first with the key and runs. Else the first one's answer.

    ``Invalid`` if the key came with another body, ``Conflict`` if the first request
    with it is still running.
    """
    with ctx.stores.sql.connection() as conn:
        earlier = keys.claim(conn, scope=scope, fingerprint=fingerprint)
        if earlier is not None and earlier.created_at < utcnow() - _stale_after(earlier.status):
            keys.forget(conn, scope=scope, created_at=earlier.created_at)  # expired or abandoned
            earlier = keys.claim(conn, scope=scope, fingerprint=fingerprint)
    if earlier is None:
        return None
    if earlier.fingerprint != fingerprint:
        raise Invalid(FIELD, "was already used for a different request")
    if earlier.status is None or earlier.response is None:
        raise Conflict(FIELD, "belongs to a request that is still running; retry shortly")
    return EarlierAnswer(earlier.status, earlier.response)


def answer(ctx: Context, *, scope: str, status: int, body: str) -> None:
    """Store the first request's answer for its retries. Never raises: the request is done."""
    try:
        with ctx.stores.sql.connection() as conn:
            keys.store_answer(conn, scope=scope, status=status, response=body)
    except StoreUnavailable as error:
        log.warning("idempotency answer not stored (a retry waits for the lease): %s", error)


def release(ctx: Context, *, scope: str) -> None:
    """The request failed before writing anything: a retry with the key may run."""
    try:
        with ctx.stores.sql.connection() as conn:
            keys.release(conn, scope=scope)
    except StoreUnavailable as error:
        log.warning("idempotency claim not released (a retry waits for the lease): %s", error)


def prune(ctx: Context) -> int:
    """Forget keys older than ``KEEP_FOR``; return how many."""
    with ctx.stores.sql.connection() as conn:
        return keys.delete_before(conn, utcnow() - KEEP_FOR)


def _stale_after(status: int | None) -> timedelta:
    return IN_FLIGHT_LEASE if status is None else KEEP_FOR
