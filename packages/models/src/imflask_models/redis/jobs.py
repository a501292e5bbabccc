"""The background job queue: RQ on the configured Redis.

``enqueue`` takes the import path RQ calls; IMFlask's jobs all go through the
worker's one entry point (``imflask_controllers.jobs.WORKER_ENTRY_POINT``), so the
code that enqueues them never imports the worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from rq import Queue, Retry
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.worker import Worker

from imflask_models.redis.client import RedisStore, unavailable_on_failure


@dataclass(frozen=True)
class QueueStatus:
    name: str
    queued: int
    started: int
    scheduled: int  # waiting for a retry
    failed: int
    workers: int


@dataclass(frozen=True)
class FailedJob:
    id: str
    function: str
    args: str
    error: str  # the last line of the traceback


def queue(store: RedisStore, name: str) -> Queue:
    return Queue(name, connection=store.queue_client)


@unavailable_on_failure
def enqueue(
    store: RedisStore,
    queue_name: str,
    function: str,
    *,
    retry_intervals: tuple[int, ...],
    request_id: str | None,
    job_id: str | None = None,
    outbox_id: int | None = None,
    trace_context: dict[str, str] | None = None,
    **kwargs: object,
) -> str:
    """Queue ``function(**kwargs)``; retried after each interval, then failed. Returns the id.

    ``job_id`` names the job (the outbox's jobs are ``outbox-<id>``, so the relay can
    ask whether the queue still holds one); ``outbox_id`` and ``trace_context`` (the
    queuing request's trace, as W3C headers) travel in the job's meta.
    """
    retry = (
        Retry(max=len(retry_intervals), interval=list(retry_intervals)) if retry_intervals else None
    )
    meta: dict[str, object] = {"request_id": request_id}
    if outbox_id is not None:
        meta["outbox_id"] = outbox_id
    if trace_context:
        meta["trace_context"] = trace_context
    job = queue(store, queue_name).enqueue(
        function, kwargs=kwargs, retry=retry, meta=meta, job_id=job_id
    )
    return job.id


@unavailable_on_failure
def existing_jobs(store: RedisStore, job_ids: list[str]) -> set[str]:
    """Those of the job ids the queue's Redis still holds (queued, running, retrying,
    failed, or finished within its result TTL)."""
    pipe = store.queue_client.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.exists(Job.key_for(job_id))
    return {job_id for job_id, found in zip(job_ids, pipe.execute(), strict=True) if found}


@unavailable_on_failure
def status(store: RedisStore, queue_name: str) -> QueueStatus:
    q = queue(store, queue_name)
    return QueueStatus(
        name=queue_name,
        queued=q.count,
        started=StartedJobRegistry(queue=q).count,
        scheduled=ScheduledJobRegistry(queue=q).count,
        failed=FailedJobRegistry(queue=q).count,
        workers=len(Worker.all(queue=q)),
    )


@unavailable_on_failure
def failed_jobs(store: RedisStore, queue_name: str, *, limit: int = 100) -> list[FailedJob]:
    registry = FailedJobRegistry(queue=queue(store, queue_name))
    jobs = Job.fetch_many(registry.get_job_ids(0, limit - 1), connection=store.queue_client)
    return [
        FailedJob(job.id, str(job.func_name), repr(job.kwargs), _last_error(job))
        for job in jobs
        if job is not None
    ]


def _last_error(job: Job) -> str:
    result = job.latest_result()
    lines = (result.exc_string or "").strip().splitlines() if result else []
    return lines[-1] if lines else ""


@unavailable_on_failure
def requeue(store: RedisStore, queue_name: str, job_ids: list[str] | None = None) -> int:
    """Put failed jobs back on the queue (all of them when ``job_ids`` is None)."""
    registry = FailedJobRegistry(queue=queue(store, queue_name))
    ids = registry.get_job_ids() if job_ids is None else job_ids
    for job_id in ids:
        registry.requeue(job_id)
    return len(ids)


@unavailable_on_failure
def drop_queue(store: RedisStore, queue_name: str) -> None:
    """Delete the queue, its jobs and registries (tests and resets)."""
    q = queue(store, queue_name)
    for registry in (FailedJobRegistry(queue=q), ScheduledJobRegistry(queue=q),
                     StartedJobRegistry(queue=q)):  # fmt: skip
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)
    q.empty()
    q.delete(delete_jobs=True)
