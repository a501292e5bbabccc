"""The worker's timings under the default settings: an abandoned job runs again within a minute."""

from __future__ import annotations

import redis
from rq import Queue
from rq.job import Job

from imflask_controllers import articles, background
from imflask_core.config import load_settings
from imflask_worker.worker import JobWorker


def test_with_the_default_settings_an_abandoned_job_runs_again_within_a_minute():
    settings = load_settings("production", environ=PRODUCTION, dotenv_path=None)
    connection = redis.Redis()  # never connects here
    worker = JobWorker(
        [Queue("q", connection=connection)],
        connection=connection,
        abandoned_after=settings.job_abandoned_after,
        prepare_for_work=False,
    )

    # a job's heartbeat expires, then a worker's next check, its retry, the scheduler's tick
    worst = (
        worker.get_heartbeat_ttl(job=None)
        + worker.maintenance_interval
        + settings.job_retry_intervals[0]
        + 1
    )
    assert settings.job_abandoned_after == 20
    assert worst <= 60, worst
    assert worker.dequeue_timeout <= worker.maintenance_interval  # it wakes to check
    assert worker.job_monitoring_interval * 3 < worker.get_heartbeat_ttl(job=None)


PRODUCTION = {
    "FLASK_SECRET_KEY": "x" * 64,
    "FLASK_MYSQL_URI": "mysql://u@db/imflask",
    "FLASK_MONGO_URI": "mongodb://mongo/",
    "FLASK_REDIS_URL": "redis://redis/0",
}


def test_a_job_stuck_between_the_queue_and_a_worker_runs_again_after_abandoned_after(
    ctx, job_queue
):
    """After a Sentinel failover a job a worker had just taken can survive in RQ's
    intermediate queue on the promoted replica; RQ re-runs it only after a minute."""
    from datetime import timedelta

    from rq.utils import now

    connection = ctx.stores.redis.queue_client
    queue = Queue(job_queue, connection=connection)
    job = Job.fetch(
        background.enqueue(
            ctx, articles.delete_comments_of_article, retry_intervals=(), article_id=0
        ),
        connection=connection,
    )
    connection.lmove(queue.key, queue.intermediate_queue_key)  # taken, never started
    stuck = queue.intermediate_queue
    seen = (now() - timedelta(seconds=25)).timestamp()
    connection.set(stuck.get_first_seen_key(job.id), seen)
    worker = JobWorker([queue], connection=connection, abandoned_after=20)

    worker.clean_registries()

    assert stuck.get_job_ids() == []
    assert job.id in queue.failed_job_registry  # RQ's way out: failed (or its next retry)
