"""``imflask-worker``: run IMFlask's jobs from the RQ queue on the configured Redis, without Flask.

The process outlives Redis: ``supervise`` runs one ``JobWorker`` after another,
a new one (after a bounded backoff) whenever the last stopped on a failure,
until a SIGTERM or SIGINT asks it to stop (or, with ``--burst``, the queue is
empty). Work that must run beside the queue's worker for as long as the
process lives (the outbox relay) is started in ``main`` next to it, as a
thread sharing ``stop``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry
from rq import Queue

from imflask_controllers import background, jobs
from imflask_core.config import Settings
from imflask_core.errors import ConfigError, StoreUnavailable
from imflask_core.observability import configure_logging
from imflask_models.redis.client import connect
from imflask_worker.context import process_context
from imflask_worker.relay import run_relay
from imflask_worker.run import check_entry_point
from imflask_worker.worker import JobWorker, backoff

log = logging.getLogger("imflask_worker")

# A worker that ran this long before failing starts the backoff over.
HEALTHY_RUN_SECONDS = 60.0
# With --burst, give up after this many workers in a row stopped on a failure.
BURST_ATTEMPTS = 8


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="imflask-worker",
        description="Run background jobs from the RQ queue on the configured Redis "
        "(FLASK_REDIS_URL, FLASK_JOBS_QUEUE; see the README).",
    )
    parser.add_argument("--burst", action="store_true", help="empty the queue, then exit")
    parser.add_argument("--name", help="worker name (default: a random one per RQ worker)")
    parser.add_argument(
        "--no-relay",
        action="store_true",
        help="do not relay the outbox's jobs to the queue (another worker does)",
    )
    args = parser.parse_args(argv)
    check_entry_point()
    try:
        # The stores' clients, built once before any job (they connect on first use).
        ctx = process_context()
    except ConfigError as error:
        parser.exit(2, f"imflask-worker: {error}\n")
    settings = ctx.settings
    jobs.load()  # every registered job, imported before the first one runs
    configure_logging(settings.log_level, json_lines=settings.log_json)
    make_metrics_folder()
    connection = queue_connection(settings)
    if args.burst:
        try:
            connection.ping()
        except redis.RedisError as error:
            parser.exit(
                1, f"imflask-worker: Redis at {settings.redis_url} does not answer: {error}\n"
            )
    stop = threading.Event()
    if not args.no_relay:
        if args.burst:  # catch up once, then empty the queue
            try:
                log.info("relayed %s outbox jobs", background.relay(ctx, grace=timedelta(0)))
            except StoreUnavailable as error:
                log.warning("outbox not relayed: %s", error)
        else:
            threading.Thread(
                target=run_relay, args=(ctx, stop), daemon=True, name="outbox-relay"
            ).start()

    def make_worker() -> JobWorker:
        queue = Queue(settings.jobs_queue, connection=connection)
        return JobWorker(
            [queue],
            connection=connection,
            name=args.name,
            abandoned_after=settings.job_abandoned_after,
        )

    log.info("worker on queue %s", settings.jobs_queue)
    return supervise(make_worker, stop, burst=args.burst, logging_level=settings.log_level)


def make_metrics_folder() -> None:
    """Make ``PROMETHEUS_MULTIPROC_DIR`` if it is set and missing, as gunicorn.conf.py does
    for the app: prometheus_client opens a file there on a metric's first count and raises
    if the folder is missing, which failed every job and every relay pass."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)


def queue_connection(settings: Settings) -> redis.Redis:
    """The worker's Redis client: no read timeout of ours (RQ sets one longer than its
    wait on the queue), a short retry of its own; longer outages are ``supervise``'s.

    With Sentinel it is the master the sentinels name whenever it connects, so a
    worker (and the scheduler it forks, which rebuilds its client from this one's
    settings) reconnects to the new master after a failover.
    """
    assert settings.redis_url is not None  # with_embedded_stores resolved it
    return connect(
        settings.redis_url,
        connect_timeout=settings.store_connect_timeout,
        read_timeout=None,
        retry=Retry(ExponentialWithJitterBackoff(cap=0.5, base=0.05), 2),
    )


def supervise(
    make_worker: Callable[[], JobWorker],
    stop: threading.Event,
    *,
    burst: bool = False,
    logging_level: str = "INFO",
) -> int:
    """Run workers one after another until ``stop`` is set or a signal asks to stop.

    RQ's ``work()`` returns (or raises) when Redis fails in the middle of its
    bookkeeping; a new worker is made after a backoff of 0.5 s doubling to 5 s
    (reset once a worker has run for a minute). A job cut short that way is
    still in RQ's started registry: it is run again once it counts as
    abandoned (``FLASK_JOB_ABANDONED_AFTER``).
    """
    delays, failures, previous = backoff(), 0, None
    while not stop.is_set():
        started = time.monotonic()
        worker = None
        try:
            if previous is not None:
                previous.register_death()  # its name leaves the registry of live workers
            worker = make_worker()
            worker.work(burst=burst, with_scheduler=True, logging_level=logging_level)
        except redis.RedisError as error:
            log.warning("worker stopped: Redis unavailable: %s", error)
        finally:
            _stop_on_signals(stop)  # RQ's handlers belong to the worker that returned
        if worker is not None:
            if worker.stopping or (burst and worker.drained):
                break
            previous = worker
        if time.monotonic() - started > HEALTHY_RUN_SECONDS:
            delays, failures = backoff(), 0
        failures += 1
        if burst and failures >= BURST_ATTEMPTS:
            log.error("worker gives up after %s failures in a row", failures)
            return 1
        delay = next(delays)
        log.warning("starting a new worker in %.1fs", delay)
        stop.wait(delay)
    stop.set()
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum, frame) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


if __name__ == "__main__":
    raise SystemExit(main())
