"""Which database serves a read, and what a writer's next reads must see.

The one place that decides. Lists, the feed and their counts read through
``read(ctx, work, viewer=..., after=...)``: on a read replica that has applied
both ``after`` (the writes behind the cache generation being filled) and the
viewer's own recent writes, else on the primary. Everything else reads the
primary directly.

Read-your-writes on any instance: every write use case runs inside
``writing(ctx, user_id=...)`` (``limits.write_limited`` puts it there), which
stores the position of its commits in Redis under the user for a short while;
every instance reads it back before routing that user's reads. If Redis cannot
say what a signed-in viewer wrote, their reads go to the primary.

A signed-in request reads that position once: ``users.authenticate`` asks for it
in the same round trip as the account (``viewer_key``, ``known_written``), and
this request's reads merge it with what the request itself wrote since. The app
forgets it when the next request starts (``start_request``); a read without it
(a web page's viewer, a job) asks Redis.

Without replicas (SQLite, or no ``FLASK_MYSQL_REPLICA_URI``) none of this
costs anything: reads go straight to the primary and no position is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from imflask_controllers.context import Context
from imflask_controllers.types import User
from imflask_core.errors import StoreUnavailable
from imflask_models import replication
from imflask_models.mysql.database import SqlConnection
from imflask_models.redis import positions

T = TypeVar("T")
log = logging.getLogger(__name__)

# (user id, their write position) as this request's authentication read it from Redis.
_known: ContextVar[tuple[int, str | None] | None] = ContextVar(
    "imflask_viewer_written", default=None
)


def written_position_ttl(ctx: Context) -> int:
    """How long a user's write position is kept: past that, every replica still used
    has applied it (a replica lagging more than the max lag is not used; its lag is
    checked every second)."""
    return int(2 * ctx.settings.mysql_replica_max_lag) + 5


def read(
    ctx: Context,
    work: Callable[[SqlConnection], T],
    *,
    viewer: User | None,
    after: str | None = None,
) -> T:
    """``work(conn)`` (read-only; it may run twice) where it sees ``after`` and the
    viewer's own writes: a fit replica, else the primary."""
    replicas = ctx.stores.replicas
    if not replicas:
        with ctx.stores.sql.connection() as conn:
            return work(conn)
    position = after
    if viewer is not None:
        try:
            position = replication.merge(after, _written_by(ctx, viewer.id))
        except StoreUnavailable:  # what did they write? unknown: the primary knows
            with ctx.stores.sql.connection() as conn:
                return work(conn)
    return replicas.read(work, after=position)


def viewer_key(ctx: Context, user_id: int) -> str | None:
    """The Redis key ``users.authenticate`` reads with the account, for ``known_written``;
    None without replicas (nothing to read)."""
    return positions.written_by_key(ctx.stores.redis, user_id) if ctx.stores.replicas else None


def known_written(user_id: int, position: str | None) -> None:
    """This request's viewer ``user_id`` had written up to ``position`` (read from Redis
    with their authentication): their reads in this request need not ask again."""
    _known.set((user_id, position))


def start_request() -> None:
    """Forget the previous request's viewer position (a thread serves many requests)."""
    _known.set(None)


def _written_by(ctx: Context, user_id: int) -> str | None:
    """What ``user_id`` has written lately: as their authentication read it, with what
    this request wrote since (``replication.written``), else asked of Redis."""
    known = _known.get()
    if known is not None and known[0] == user_id:
        return replication.merge(known[1], replication.written())
    return positions.written_by(ctx.stores.redis, user_id)


@contextmanager
def writing(ctx: Context, *, user_id: int) -> Generator[None, None, None]:
    """Around a write as ``user_id``: remember where its commits put the primary, so
    that user's next reads, on any instance, include them. Never raises.

    Inside a unit of work (an ``Idempotency-Key`` request) the commit comes after the
    use case returns: the position is taken once the unit commits."""
    replication.begin_unit()
    try:
        yield
    finally:
        ctx.stores.sql.after_commit(lambda: _remember_written(ctx, user_id))


def _remember_written(ctx: Context, user_id: int) -> None:
    written = replication.written()
    if written and ctx.stores.replicas:
        try:
            positions.remember_written(
                ctx.stores.redis, user_id, written, ttl=written_position_ttl(ctx)
            )
        except StoreUnavailable as error:  # their reads go to the primary meanwhile
            log.warning("write position of user %s not kept: %s", user_id, error)
