"""Idempotency keys: a request sent again with the same key gets the first answer.

The HTTP layer computes a ``scope`` (who sent it, where, and the key) and a
``fingerprint`` (the body) and calls ``once``: it answers from the row of a
request already done with the scope, or runs the request inside one unit of
work (``SqlDatabase.unit_of_work``) holding the key's row, every
write the request makes and, last, its answer. So a request's writes and its
key are committed together or not at all: a retry after a rollback runs
again, a retry after a commit (even one whose answer was lost on the way) is
answered from the row. A second request with the key while the first still
runs waits on the key's row, then gets the first one's answer.

Writes outside MySQL (comments, in MongoDB) are not in the unit: a comment
whose MySQL commit failed after MongoDB took it is written again by a retry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from imflask_controllers.context import Context
from imflask_controllers.errors import Conflict, Invalid
from imflask_models.errors import DuplicateKey
from imflask_models.mysql import idempotency as keys
from imflask_models.mysql.database import retry_conflicts
from imflask_models.mysql.dialect import utcnow

FIELD = "Idempotency-Key"
T = TypeVar("T")
KEEP_FOR = timedelta(hours=24)  # then a key may be used again; `flask db prune` forgets it


@dataclass(frozen=True)
class EarlierAnswer:
    status: int
    body: str


def once(
    ctx: Context,
    *,
    scope: str,
    fingerprint: str,
    run: Callable[[], T],
    answer_of: Callable[[T], tuple[int, str]],
) -> T | EarlierAnswer:
    """``run()``'s result, with its writes and its answer (``answer_of``: status and
    body) committed together with the key; or the answer of the request that already
    ran with this key. ``Invalid`` if that request had another body."""

    def attempt() -> T | EarlierAnswer:
        earlier = _earlier_answer(ctx, scope=scope, fingerprint=fingerprint)
        if earlier is not None:
            return earlier
        with ctx.stores.sql.unit_of_work() as conn:
            keys.forget_expired(conn, scope=scope, kept_since=utcnow() - KEEP_FOR)
            try:  # a concurrent request with the key waits here until that one ends
                keys.claim(conn, scope=scope, fingerprint=fingerprint)
            except DuplicateKey:
                raise _KeyTaken from None
            result = run()
            status, body = answer_of(result)
            keys.store_answer(conn, scope=scope, status=status, response=body)
        return result

    def until_answered() -> T | EarlierAnswer:
        for _ in range(3):  # a request that took the key has committed its answer by now
            try:
                return attempt()
            except _KeyTaken:
                continue
        raise Conflict(FIELD, "is in use by another request; retry shortly")

    return retry_conflicts(until_answered)  # the unit is one transaction: run it again


class _KeyTaken(Exception):
    """Another request committed the key first: look up its answer."""


def _earlier_answer(ctx: Context, *, scope: str, fingerprint: str) -> EarlierAnswer | None:
    with ctx.stores.sql.connection() as conn:
        found = keys.answer_of(conn, scope=scope, kept_since=utcnow() - KEEP_FOR)
    if found is None:
        return None
    if found.fingerprint != fingerprint:
        raise Invalid(FIELD, "was already used for a different request")
    return EarlierAnswer(found.status, found.response)


def prune(ctx: Context) -> int:
    """Forget keys older than ``KEEP_FOR``; return how many."""
    with ctx.stores.sql.connection() as conn:
        return keys.delete_before(conn, utcnow() - KEEP_FOR)
