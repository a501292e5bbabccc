"""The worker's one RQ entry point: ``run_job(name, kwargs)`` runs a registered job.

Every job on the queue is a call of this function (``jobs.WORKER_ENTRY_POINT`` in
the controllers names it), with the name a controller registered its job under
(``imflask_controllers.jobs``). It runs the job as an inline run does
(``jobs.run``: request id, logging, metrics, outbox, its span), over this process's
context, with the request id, outbox entry and trace context the job carries in its
RQ meta.
"""

from __future__ import annotations

from rq import get_current_job

from imflask_controllers import jobs
from imflask_worker.context import process_context


def run_job(name: str, kwargs: dict[str, object]) -> object:
    """Run the registered job ``name`` with ``kwargs`` (its retries are RQ's)."""
    current = get_current_job()
    meta = current.meta if current else {}
    return jobs.run(
        process_context(),
        name,
        kwargs,
        outbox_id=meta.get("outbox_id"),
        request_id=meta.get("request_id"),
        trace_context=meta.get("trace_context"),
    )


def check_entry_point() -> None:
    """Fail the worker's start, not every job, if the controllers name another function."""
    here = f"{run_job.__module__}.{run_job.__qualname__}"
    if here != jobs.WORKER_ENTRY_POINT:
        raise RuntimeError(f"jobs.WORKER_ENTRY_POINT is {jobs.WORKER_ENTRY_POINT!r}, not {here!r}")
