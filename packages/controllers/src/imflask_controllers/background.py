"""Work that need not finish before the response, as durable as the write that caused it.

A use case records its job in the outbox inside its own transaction
(``record``, given the registered job function: see ``imflask_controllers.jobs``),
then, after the commit, hands it on (``dispatch``): to the RQ queue for
``imflask-worker``, or, in development and testing (``FLASK_JOBS_INLINE``), to
``jobs.run`` right here, the same path the worker takes. An inline run that
fails goes to the queue, whose retries it then gets like any queued job.
``dispatch`` never raises: the write has committed, and whatever fails after it
is caught up by ``relay``, which queues again every job of the outbox that has
not run and that the queue no longer holds (a Redis that lost its data, a lost
enqueue). A job is marked done when it succeeds (``jobs.run``). Jobs are
idempotent, so a job relayed twice does no harm.

The queue holds every job as a call of the worker's one entry point
(``jobs.WORKER_ENTRY_POINT``) with the job's name and keyword arguments.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from imflask_controllers import jobs
from imflask_controllers.context import Context
from imflask_core import tracing
from imflask_core.errors import StoreUnavailable
from imflask_core.observability import request_id_var
from imflask_models.mysql import outbox
from imflask_models.mysql.database import SqlConnection
from imflask_models.mysql.dialect import utcnow
from imflask_models.redis import jobs as queue

log = logging.getLogger(__name__)

# The relay leaves a job this long to its own dispatch before it queues it itself.
RELAY_GRACE = timedelta(seconds=2)
RELAY_BATCH = 500


@dataclass(frozen=True)
class PendingJob:
    """A job recorded in the outbox, to be dispatched once its transaction commits."""

    outbox_id: int
    job: str  # its registered name
    kwargs: dict[str, Any]
    request_id: str | None
    trace_context: dict[str, str] | None = None  # the recording request's, tracing on


def record(conn: SqlConnection, job: Callable[..., Any], **kwargs: Any) -> PendingJob:
    """Record the registered ``job(ctx, **kwargs)`` in the outbox, inside the caller's
    transaction, with the request id and trace context it will run under."""
    name = jobs.name_of(job, **kwargs)
    request_id = request_id_var.get()
    trace_context = tracing.carrier()
    outbox_id = outbox.add_job(
        conn, job=name, kwargs=kwargs, request_id=request_id, trace_context=trace_context
    )
    return PendingJob(outbox_id, name, kwargs, request_id, trace_context)


def dispatch(ctx: Context, pending: PendingJob) -> None:
    """After the commit: queue the job, or run it here when jobs run inline. Never raises."""
    if ctx.settings.jobs_inline:
        _run_inline(ctx, pending)
    else:
        _hand_to_queue(ctx, pending)


def enqueue(
    ctx: Context,
    job: Callable[..., Any],
    *,
    request_id: str | None = None,
    retry_intervals: tuple[int, ...] | None = None,
    **kwargs: Any,
) -> str:
    """Queue the registered ``job(ctx, **kwargs)`` outside any write; return its RQ id.

    For operators, tests and benchmarks: no outbox entry, so nothing relays it if the
    queue loses it. ``retry_intervals`` default to ``FLASK_JOB_RETRY_INTERVALS``.
    """
    return _enqueue(
        ctx,
        jobs.name_of(job, **kwargs),
        kwargs,
        request_id,
        retry_intervals=retry_intervals,
        trace_context=tracing.carrier(),
    )


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
        held = queue.existing_jobs(ctx.stores.redis, [_job_id(ctx, entry.id) for entry in batch])
        for entry in batch:
            if _job_id(ctx, entry.id) not in held:
                _enqueue(
                    ctx,
                    entry.job,
                    entry.kwargs,
                    entry.request_id,
                    outbox_id=entry.id,
                    trace_context=entry.trace_context,
                )
                relayed += 1
                log.info("relayed outbox job %s: the queue did not hold it", entry.id)
        after = batch[-1].id


def pending_count(ctx: Context) -> int:
    with ctx.stores.sql.connection() as conn:
        return outbox.pending_count(conn)


def prune_done(ctx: Context, *, older_than: timedelta = timedelta(days=1)) -> int:
    """Forget jobs that ran more than ``older_than`` ago; return how many."""
    with ctx.stores.sql.connection() as conn:
        return outbox.delete_done(conn, before=utcnow() - older_than)


def _run_inline(ctx: Context, pending: PendingJob) -> None:
    """``jobs.run`` here; if it fails, the queue runs it again with its retries."""
    try:
        jobs.run(
            ctx,
            pending.job,
            pending.kwargs,
            outbox_id=pending.outbox_id,
            request_id=pending.request_id,
            trace_context=pending.trace_context,
        )
    except Exception:  # logged by jobs.run; the write has committed: never a 500
        log.warning("job %s failed inline; handing it to the queue", pending.outbox_id)
        _hand_to_queue(ctx, pending)


def _hand_to_queue(ctx: Context, pending: PendingJob) -> None:
    try:
        _enqueue(
            ctx,
            pending.job,
            pending.kwargs,
            pending.request_id,
            outbox_id=pending.outbox_id,
            trace_context=pending.trace_context,
        )
    except StoreUnavailable as error:
        log.warning("job %s stays in the outbox for the relay: %s", pending.outbox_id, error)


def _enqueue(
    ctx: Context,
    job: str,
    kwargs: dict[str, Any],
    request_id: str | None,
    *,
    outbox_id: int | None = None,
    retry_intervals: tuple[int, ...] | None = None,
    trace_context: dict[str, str] | None = None,
) -> str:
    """Queue the job as a call of the worker's entry point (``jobs.WORKER_ENTRY_POINT``)."""
    return queue.enqueue(
        ctx.stores.redis,
        ctx.settings.jobs_queue,
        jobs.WORKER_ENTRY_POINT,
        retry_intervals=(
            ctx.settings.job_retry_intervals if retry_intervals is None else retry_intervals
        ),
        request_id=request_id,
        job_id=None if outbox_id is None else _job_id(ctx, outbox_id),
        outbox_id=outbox_id,
        trace_context=trace_context,
        name=jobs.current_name(job),
        kwargs=kwargs,
    )


def _job_id(ctx: Context, outbox_id: int) -> str:
    """The job's RQ id; RQ's job keys are global, so it names the queue too."""
    queue_name = "".join(c if c.isalnum() or c in "_-" else "_" for c in ctx.settings.jobs_queue)
    return f"{queue_name}-outbox-{outbox_id}"
