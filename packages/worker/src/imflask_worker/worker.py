"""The RQ worker that runs IMFlask's jobs: in this process, over one long-lived context.

RQ's default ``Worker`` forks a work horse per job; here a fork also meant
importing the controllers and connecting to every store again, ~0.4 s per job
(``bench/fanout.py``). ``JobWorker`` runs each job in its own process instead
(RQ's ``SimpleWorker``: the job timeout still holds, through SIGALRM), so the
connections stay open from one job to the next. What the forking worker's
monitor did while a horse ran, a thread does here: it renews the job's
heartbeat every quarter of ``FLASK_JOB_ABANDONED_AFTER``.

It also shortens what RQ leaves at minutes, so that a dead worker's job runs
again within a minute: a started job whose heartbeat is older than
``abandoned_after`` seconds counts as abandoned, and every worker checks for
such jobs (RQ's registry maintenance) that often, waking from its wait on the
queue to do so. Its scheduler (retries waiting their interval) survives a
Redis outage instead of dying with it.

Redis going away in the middle of RQ's bookkeeping still ends ``work()``;
``imflask_worker.cli`` starts a new ``JobWorker`` then (see ``supervise``).
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import redis
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT as DEFAULT_DATE
from rq.defaults import DEFAULT_LOGGING_FORMAT as DEFAULT_FORMAT
from rq.executions import Execution
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job
from rq.queue import Queue
from rq.registry import clean_registries
from rq.scheduler import RQScheduler
from rq.utils import now
from rq.worker import SimpleWorker, WorkerStatus
from rq.worker_registration import clean_worker_registry, register

log = logging.getLogger("imflask_worker")

REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError)


def backoff(first: float = 0.5, cap: float = 5.0) -> Iterator[float]:
    """Delays before each reconnection attempt: doubling from ``first``, at most ``cap``."""
    delay = first
    while True:
        yield delay * random.uniform(0.8, 1.0)  # noqa: S311 - jitter, not secrets
        delay = min(delay * 2, cap)


class JobWorker(SimpleWorker):
    """Runs jobs in this process; finds a dead worker's job within 1.5 ``abandoned_after``."""

    # RQ's own reconnection loop while idle (1, 2, 4 s...): capped lower than its 60 s.
    max_connection_wait_time = 5.0

    def __init__(self, *args, abandoned_after: int, **kwargs) -> None:
        self.abandoned_after = abandoned_after
        super().__init__(
            *args,
            maintenance_interval=max(1, abandoned_after // 2),
            job_monitoring_interval=max(1, abandoned_after // 4),
            **kwargs,
        )
        self.stopping = False  # a SIGTERM or SIGINT asked this worker to stop
        self.drained = False  # a burst found the queue empty
        self.burst = False

    def work(self, burst: bool = False, *args: Any, **kwargs: Any) -> bool:
        self.burst = burst
        return super().work(burst, *args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        """Wake from the queue's BLPOP this often, to look for abandoned jobs."""
        return self.maintenance_interval

    def run_maintenance_tasks(self) -> None:
        """RQ's, in the other order: abandoned jobs first (each goes back to its retry,
        which waits in the scheduled registry), then a scheduler started if this
        worker's is not running, so one that died with its worker is replaced in the
        same tick (its lock has expired by then: see ``SurvivingScheduler``)."""
        first = self.last_cleaned_at is None  # work() has just started the scheduler
        self.clean_registries()
        self.clean_group_registries()
        if first or self.burst or self.scheduler is None:
            return
        process = self.scheduler._process
        if process is None or not process.is_alive():
            self.scheduler.acquire_locks(auto_start=True)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        return self.abandoned_after

    def execute_job(self, job: Job, queue: Queue) -> None:
        execution = self.prepare_execution(job)
        with self._heartbeats(job, execution):
            self.perform_job(job, queue, execution)
        self.set_state(WorkerStatus.IDLE)

    @contextlib.contextmanager
    def _heartbeats(self, job: Job, execution: Execution) -> Iterator[None]:
        """Keep the job's heartbeat fresh while it runs; a failed beat is only logged."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.job_monitoring_interval):
                try:
                    self.maintain_heartbeats(job, execution)
                except REDIS_ERRORS as error:
                    log.warning("job %s: heartbeat not sent: %s", job.id, error)

        thread = threading.Thread(target=beat, name="job-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def heartbeat(self, timeout: int | None = None, pipeline=None) -> None:
        super().heartbeat(timeout, pipeline)
        if pipeline is None and self.connection.hlen(self.key) == 1:
            # Redis came back empty: only the heartbeat is there. Register again, so that
            # `flask jobs status` counts this worker.
            with self.connection.pipeline() as p:
                p.hset(self.key, mapping=self.serialize())
                register(self, p)
                p.expire(self.key, timeout or self.worker_ttl + 60)
                p.execute()

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        self.drained = result is None
        return result

    def request_stop(self, signum, frame) -> None:
        self.stopping = True
        super().request_stop(signum, frame)

    def clean_registries(self) -> None:
        """RQ's registry maintenance (abandoned jobs among it), under a cleaning lock
        that expires after ``abandoned_after`` rather than RQ's 15 minutes, and is
        released even when Redis fails half-way."""
        for queue in self.queues:
            if not self.connection.set(
                queue.registry_cleaning_key, 1, nx=True, ex=self.abandoned_after
            ):
                continue  # another worker is cleaning this queue
            try:
                clean_registries(queue, self._exc_handlers)
                clean_worker_registry(queue)
                _IntermediateQueue(
                    queue.key, connection=queue.connection, stuck_after=self.abandoned_after
                ).cleanup(self, queue)
            finally:
                with contextlib.suppress(*REDIS_ERRORS):
                    queue.release_maintenance_lock()
        self.last_cleaned_at = now()

    def _start_scheduler(self, burst=False, logging_level="INFO", date_format=DEFAULT_DATE,
                         log_format=DEFAULT_FORMAT) -> None:  # fmt: skip
        """RQ's, with a scheduler that outlives Redis outages."""
        self.scheduler = SurvivingScheduler(
            self.queues,
            # Gone before a dead worker's job counts as abandoned (see run_maintenance_tasks).
            lock_ttl=max(2, self.abandoned_after - self.job_monitoring_interval),
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return  # another worker's scheduler has the queue; maintenance tries again
        if burst:
            try:
                self.scheduler.register_birth()
                self.scheduler.enqueue_scheduled_jobs()
            finally:
                self.scheduler.release_locks()
                self.scheduler.register_death()
        else:
            self.scheduler.start()


# Shorten a scheduler lock's TTL if (and only if) this scheduler still owns it.
SHORTEN_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class _IntermediateQueue(IntermediateQueue):
    """RQ's intermediate queue (jobs taken from the queue, not yet started), whose jobs
    count as stuck after ``stuck_after`` seconds instead of RQ's minute.

    A job a worker had just taken when the Redis master died can survive there on the
    promoted replica; it then runs again as its next retry within about
    ``FLASK_JOB_ABANDONED_AFTER`` (seen: 75 s with RQ's rule, after a Sentinel failover).
    """

    def __init__(self, queue_key: str, connection: Any, *, stuck_after: int) -> None:
        super().__init__(queue_key, connection=connection)
        self.stuck_after = timedelta(seconds=stuck_after)

    def should_be_cleaned_up(self, job_id: str) -> bool:
        first_seen = self.get_first_seen(job_id)
        return first_seen is not None and now() - first_seen > self.stuck_after


class SurvivingScheduler(RQScheduler):
    """RQ's scheduler (a process of its own, forked by the worker) that waits out Redis
    failures with a bounded backoff instead of dying on the first one, and whose
    lock expires ``lock_ttl`` seconds after its last heartbeat rather than RQ's 61 s,
    so that another worker's scheduler takes over quickly from a dead one."""

    def __init__(self, *args, lock_ttl: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lock_ttl = lock_ttl

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        acquired = super().acquire_locks(auto_start=False)
        self._shorten_locks()
        if acquired and auto_start and not (self._process and self._process.is_alive()):
            self.start()
        return acquired

    def heartbeat(self) -> None:
        super().heartbeat()
        self._shorten_locks()

    def _shorten_locks(self) -> None:
        shorten = self.connection.register_script(SHORTEN_LOCK)
        for name in self._acquired_locks:
            shorten(keys=[self.get_locking_key(name)], args=[self.name, self.lock_ttl])

    def work(self) -> None:
        self._install_signal_handlers()
        delays = backoff()
        born = False
        while not self._stop_requested:
            try:
                if not born:
                    self.register_birth()
                    born = True
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()  # re-takes a lock that vanished with Redis' data
                self.enqueue_scheduled_jobs()
                delays = backoff()
                time.sleep(self.interval)
            except REDIS_ERRORS as error:
                delay = next(delays)
                self.log.warning(
                    "scheduler: Redis unavailable (%s); retrying in %.1fs", error, delay
                )
                self._scheduled_job_registries = []
                time.sleep(delay)
        with contextlib.suppress(*REDIS_ERRORS):
            self.stop()
