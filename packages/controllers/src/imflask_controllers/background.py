"""Work that need not finish before the response, as durable as the write that caused it.

A use case records its job in the outbox inside its own transaction
(``record``), then, after the commit, hands it on (``dispatch``): to the RQ
queue for ``imflask-worker``, or, in development and testing
(``FLASK_JOBS_INLINE``), to the job's function right here. ``dispatch`` never
raises: the write has committed, and whatever fails after it is caught up by
``relay``, which queues again every job of the outbox that has not run and
that the queue no longer holds (a Redis that lost its data, a lost enqueue).
The worker marks a job done when it succeeds (``mark_done``). Jobs are
idempotent, so a job relayed twice does no harm.

Jobs are named by their import path in ``imflask_worker.jobs`` so controllers
never import the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from imflask_controllers.context import Context
from imflask_core.errors import StoreUnavailable
from imflask_core.observability import request_id_var
from imflask_models.mysql import outbox
from imflask_models.mysql.database import SqlConnection
from imflask_models.mysql.dialect import utcnow
from imflask_models.redis import jobs

log = logging.getLogger(__name__)

# The relay leaves a job this long to its own dispatch before it queues it itself.
RELAY_GRACE = timedelta(seconds=2)
RELAY_BATCH = 500


@dataclass(frozen=True)
class PendingJob:
    """A job recorded in the outbox, to be dispatched once its transaction commits."""

    outbox_id: int
    job: str  # import path of the worker's function
    kwargs: dict[str, Any]
    run_here: Callable[..., Any]  # the controller function, for inline runs
    request_id: str | None


def record(
    conn: SqlConnection, job: str, run_here: Callable[..., Any], **kwargs: Any
) -> PendingJob:
    """Record ``job(**kwargs)`` in the outbox, inside the caller's transaction."""
    request_id = request_id_var.get()
    outbox_id = outbox.add_job(conn, job=job, kwargs=kwargs, request_id=request_id)
    return PendingJob(outbox_id, job, kwargs, run_here, request_id)


def dispatch(ctx: Context, pending: PendingJob) -> None:
    """After the commit: queue the job, or run it here when jobs run inline. Never raises."""
    if ctx.settings.jobs_inline:
        _run_inline(ctx, pending)
        return
    try:
        _enqueue(ctx, pending.outbox_id, pending.job, pending.kwargs, pending.request_id)
    except StoreUnavailable as error:
        log.warning("job %s stays in the outbox for the relay: %s", pending.outbox_id, error)


def relay(ctx: Context, *, grace: timedelta | None = None, limit: int = RELAY_BATCH) -> int:
    """Queue every pending outbox job that the queue does not hold; return how many.

    Jobs younger than ``grace`` (default ``RELAY_GRACE``) are left to their own ``dispatch``.

    Raises ``StoreUnavailable`` when MySQL or Redis does not answer (the next
    pass catches up).
    """
    relayed, after = 0, 0
    created_before = utcnow() - (RELAY_GRACE if grace is None else grace)
    while True:
        with ctx.stores.sql.connection() as conn:
            batch = outbox.pending_jobs(
                conn, created_before=created_before, after=after, limit=limit
            )
        if not batch:
            return relayed
        held = jobs.existing_jobs(ctx.stores.redis, [_job_id(ctx, entry.id) for entry in batch])
        for entry in batch:
            if _job_id(ctx, entry.id) not in held:
                _enqueue(ctx, entry.id, entry.job, entry.kwargs, entry.request_id)
                relayed += 1
                log.info("relayed outbox job %s: the queue did not hold it", entry.id)
        after = batch[-1].id


def mark_done(ctx: Context, outbox_id: int) -> None:
    """The job has run: the relay leaves it alone from now on."""
    with ctx.stores.sql.connection() as conn:
        outbox.mark_done(conn, [outbox_id])


def pending_count(ctx: Context) -> int:
    with ctx.stores.sql.connection() as conn:
        return outbox.pending_count(conn)


def prune_done(ctx: Context, *, older_than: timedelta = timedelta(days=1)) -> int:
    """Forget jobs that ran more than ``older_than`` ago; return how many."""
    with ctx.stores.sql.connection() as conn:
        return outbox.delete_done(conn, before=utcnow() - older_than)


def _run_inline(ctx: Context, pending: PendingJob) -> None:
    try:
        pending.run_here(ctx, **pending.kwargs)
        mark_done(ctx, pending.outbox_id)
    except StoreUnavailable as error:
        log.warning("job %s failed inline, left in the outbox: %s", pending.outbox_id, error)
    except Exception:  # the write has committed: its answer must not turn into a 500
        log.exception("job %s failed inline, left in the outbox", pending.outbox_id)


def _enqueue(
    ctx: Context, outbox_id: int, job: str, kwargs: dict[str, Any], request_id: str | None
) -> None:
    jobs.enqueue(
        ctx.stores.redis,
        ctx.settings.jobs_queue,
        job,
        retry_intervals=ctx.settings.job_retry_intervals,
        request_id=request_id,
        job_id=_job_id(ctx, outbox_id),
        outbox_id=outbox_id,
        **kwargs,
    )


def _job_id(ctx: Context, outbox_id: int) -> str:
    """The job's RQ id; RQ's job keys are global, so it names the queue too."""
    queue = "".join(c if c.isalnum() or c in "_-" else "_" for c in ctx.settings.jobs_queue)
    return f"{queue}-outbox-{outbox_id}"
