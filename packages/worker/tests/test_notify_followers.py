"""The fan-out job: idempotent, batched, run by a real worker process on the real queue."""

from __future__ import annotations

import time

from imflask_controllers import articles, background, notifications
from imflask_controllers.jobs import WORKER_ENTRY_POINT
from imflask_core.observability import request_id_var
from imflask_models.mongo import notifications as inbox
from imflask_models.redis import jobs


def notices(ctx) -> int:
    return ctx.stores.mongo.db[inbox.NOTIFICATIONS].count_documents({})


def test_running_a_batch_twice_creates_no_duplicates(ctx, author_with_fans):
    author, fans = author_with_fans
    articles.create_article(  # inline in testing: the first run
        ctx, author=author, title="t", description="d", body="b", tags=[]
    )
    article_id = ctx.stores.mongo.db[inbox.NOTIFICATIONS].find_one()["article_id"]

    again = notifications.notify_follower_batch(
        ctx, article_id=article_id, follower_ids=[fan.id for fan in fans]
    )
    batches = notifications.notify_followers(ctx, article_id=article_id)

    assert again == 0
    assert batches == 1
    assert notices(ctx) == len(fans)


def test_followers_who_fit_in_one_batch_are_notified_by_the_fan_out_job_itself(
    make_context, job_queue, ctx, author_with_fans
):
    # given an article of an author with five followers, its job queued, not run
    queued = make_context(jobs_inline=False)
    author, fans = author_with_fans
    articles.create_article(queued, author=author, title="t", description="d", body="b", tags=[])
    (fan_out,) = jobs.queue(ctx.stores.redis, job_queue).get_jobs()

    # when the fan-out job runs
    batches = notifications.notify_followers(queued, **fan_out.kwargs["kwargs"])

    # then every follower is notified and no batch job was queued or left in the outbox
    assert batches == 1
    assert notices(ctx) == len(fans)
    assert [job.id for job in jobs.queue(ctx.stores.redis, job_queue).get_jobs()] == [fan_out.id]
    assert background.pending_count(ctx) == 1  # the fan-out's own, marked done by jobs.run


def test_fan_out_goes_in_batches(ctx, author_with_fans, monkeypatch):
    monkeypatch.setattr(notifications, "FAN_OUT_BATCH", 2)
    author, fans = author_with_fans
    article = articles.create_article(
        ctx, author=author, title="t", description="d", body="b", tags=[]
    )

    batches = notifications.notify_followers(ctx, article_id=article_id_of(ctx, article.slug))

    assert batches == 3  # 2 + 2 + 1
    assert notices(ctx) == len(fans)


def article_id_of(ctx, slug: str) -> int:
    with ctx.stores.sql.connection() as conn:
        return conn.scalar("SELECT id FROM articles WHERE slug = %(slug)s", {"slug": slug})


def test_two_thousand_followers_are_notified_once_in_separate_batch_jobs(
    make_context, run_worker, job_queue, ctx
):
    # given an author with 2,000 followers, and an article published with its jobs queued
    from imflask_controllers import seeding
    from imflask_models.mysql import follows

    seeding.seed(
        ctx, seeding.SeedPlan(users=2001, articles=0, follows_per_user=0, favorites_per_user=0)
    )
    with ctx.stores.sql.transaction() as conn:
        ids = [row["id"] for row in conn.all("SELECT id FROM users ORDER BY id")]
        follows.follow_many(conn, [(fan, ids[0]) for fan in ids[1:]])
    queued = make_context(jobs_inline=False)
    with ctx.stores.sql.connection() as conn:
        from imflask_models.mysql import users as users_table

        author = users_table.user_by_id(conn, ids[0])
    article = articles.create_article(
        queued, author=author, title="News", description="d", body="b", tags=[]
    )
    article_id = article_id_of(ctx, article.slug)

    # when the first job runs, it queues one job per batch of followers
    batches = notifications.notify_followers(queued, article_id=article_id)
    batch_jobs = [
        job
        for job in jobs.queue(ctx.stores.redis, job_queue).get_jobs()
        if job.func_name == WORKER_ENTRY_POINT and job.kwargs["name"] == "notify_follower_batch"
    ]
    assert batches == 4
    assert sorted(len(job.kwargs["kwargs"]["follower_ids"]) for job in batch_jobs) == [500] * 4
    # ...one batch is queued a second time (a retry, a relay sending twice)
    background.enqueue(
        ctx, notifications.notify_follower_batch, retry_intervals=(), request_id="twice",
        **batch_jobs[0].kwargs["kwargs"],
    )  # fmt: skip
    worker = run_worker()

    # then every follower has exactly one notice
    assert worker.returncode == 0, worker.stderr
    assert notices(ctx) == 2000
    assert len(ctx.stores.mongo.db[inbox.NOTIFICATIONS].distinct("user_id")) == 2000
    # the 4 batches queued above, the one queued twice, and the 4 of the queued first job
    assert worker.stderr.count("new notifications of 500") == 9
    assert worker.stderr.count(": 500 new notifications of 500") == 4
    assert jobs.status(ctx.stores.redis, job_queue).failed == 0


def test_a_real_worker_delivers_the_notifications(
    make_context, run_worker, job_queue, ctx, author_with_fans
):
    author, fans = author_with_fans
    queued = make_context(jobs_inline=False)
    token = request_id_var.set("publish-1")  # as the request that publishes sets it
    try:
        articles.create_article(
            queued, author=author, title="News", description="d", body="b", tags=[]
        )
    finally:
        request_id_var.reset(token)
    assert notices(ctx) == 0  # queued, not done

    worker = run_worker()

    assert worker.returncode == 0, worker.stderr
    deadline = time.monotonic() + 30
    while notices(ctx) < len(fans) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert notices(ctx) == len(fans)
    assert notifications.inbox_of(ctx, user=fans[0]).unread == 1
    assert "publish-1" in worker.stderr  # the request id reached the job's log lines
    assert jobs.status(ctx.stores.redis, job_queue).failed == 0


def test_a_worker_given_a_metrics_folder_that_does_not_exist_yet_makes_it_and_runs_its_jobs(
    make_context, ctx, author_with_fans, run_worker, job_queue, tmp_path
):
    # given an article whose fan-out is queued, and a PROMETHEUS_MULTIPROC_DIR not yet made
    # (imflask-cluster's workers: every job and every relay pass failed on the first count)
    author, fans = author_with_fans
    queued = make_context(jobs_inline=False)
    articles.create_article(queued, author=author, title="t", description="d", body="b", tags=[])
    folder = tmp_path / "metrics" / "worker1"

    # when a worker runs it
    worker = run_worker(PROMETHEUS_MULTIPROC_DIR=str(folder))

    # then the followers are notified and the worker's counts are in the folder
    assert worker.returncode == 0, worker.stderr
    assert notices(ctx) == len(fans), worker.stderr
    assert jobs.status(ctx.stores.redis, job_queue).failed == 0
    assert any(path.name.startswith("counter_") for path in folder.iterdir())


def test_a_job_failing_on_a_store_is_retried_then_failed_then_requeued(
    ctx, author_with_fans, run_worker, job_queue
):
    author, fans = author_with_fans
    with ctx.stores.sql.connection() as conn:
        from imflask_models.mysql import articles as articles_table

        article_id = articles_table.insert_article(
            conn, slug="s", title="t", description="d", body="b", author_id=author.id
        ).id
    background.enqueue(
        ctx,
        notifications.notify_followers,
        retry_intervals=(0, 0),
        request_id="retry-me",
        article_id=article_id,
    )
    failing = run_worker(
        FLASK_JOB_RETRY_INTERVALS="0,0",
        FLASK_MONGO_URI="mongodb://127.0.0.1:1/?directConnection=true",
        FLASK_STORE_CONNECT_TIMEOUT="0.3",
        FLASK_STORE_READ_TIMEOUT="0.3",
    )

    assert failing.returncode == 0, failing.stderr
    # the fan-out job (its five followers: one batch, its own) fails on MongoDB: first try
    # + 2 retries
    assert failing.stderr.count("job notify_followers failed") == 3
    (failed,) = jobs.failed_jobs(ctx.stores.redis, job_queue)
    assert "mongo is unavailable" in failed.error
    assert notices(ctx) == 0

    assert jobs.requeue(ctx.stores.redis, job_queue) == 1
    healed = run_worker()

    assert healed.returncode == 0, healed.stderr
    assert notices(ctx) == len(fans)
    assert jobs.status(ctx.stores.redis, job_queue).failed == 0
