"""The outbox: a job is recorded with the write that caused it and relayed until it has run."""

from __future__ import annotations

import pytest

from imflask_controllers import articles, background, profiles, users
from imflask_core.errors import TransactionConflict
from imflask_models.mongo import notifications as inbox
from imflask_models.mysql import tags as tags_table
from imflask_models.redis import jobs

CLOSED_REDIS = "redis://127.0.0.1:1/0"


def sign_up(ctx, name):
    token = users.register_user(
        ctx, username=name, email=f"{name}@x.io", password="password1", client_ip="test"
    ).token
    return users.authenticate(ctx, token).user


def publish(ctx, author, title):
    return articles.create_article(
        ctx, author=author, title=title, description="d", body="b", tags=["t"]
    )


def with_fans(ctx, count):
    author = sign_up(ctx, "author")
    for i in range(count):
        profiles.follow_user(ctx, username="author", follower=sign_up(ctx, f"fan{i}"))
    return author


@pytest.fixture
def author_and_fans(make_context, job_queue):
    queued = make_context(jobs_inline=False)
    return queued, with_fans(queued, 4)


def notices(ctx) -> int:
    return ctx.stores.mongo.db[inbox.NOTIFICATIONS].count_documents({})


def test_jobs_the_queue_lost_are_relayed_and_run(ctx, author_and_fans, run_worker, job_queue):
    queued, author = author_and_fans
    for i in range(3):
        assert publish(queued, author, f"news {i}").slug == f"news-{i}"
    assert jobs.status(ctx.stores.redis, job_queue).queued == 3
    jobs.drop_queue(ctx.stores.redis, job_queue)  # Redis lost its data

    worker = run_worker()

    assert worker.returncode == 0, worker.stderr
    assert worker.stderr.count("the queue did not hold it") == 3
    assert notices(ctx) == 3 * 4
    assert background.pending_count(ctx) == 0


def test_a_publish_while_the_queue_is_down_succeeds_and_is_delivered_later(
    ctx, make_context, run_worker, job_queue
):
    queued = make_context(jobs_inline=False, store_connect_timeout=0.3)
    author = with_fans(queued, 1)
    queued.stores.redis.url = CLOSED_REDIS  # the queue goes away
    queued.stores.redis.forget_client()

    published = publish(queued, author, "while down")

    assert published.slug == "while-down"
    assert background.pending_count(ctx) == 1
    assert run_worker().returncode == 0
    assert notices(ctx) == 1
    assert background.pending_count(ctx) == 0


def test_a_job_done_is_not_relayed_again(ctx, author_and_fans, run_worker, job_queue):
    queued, author = author_and_fans
    publish(queued, author, "once")
    assert run_worker().returncode == 0
    assert notices(ctx) == 4
    jobs.drop_queue(ctx.stores.redis, job_queue)  # finished jobs forgotten by Redis

    assert background.relay(ctx) == 0
    assert background.pending_count(ctx) == 0


def test_a_write_that_fails_records_no_job(ctx, author_and_fans, monkeypatch):
    queued, author = author_and_fans

    def conflicted(conn, article_id, tag_ids):
        raise TransactionConflict("deadlock")

    monkeypatch.setattr(tags_table, "add_article_tags", conflicted)

    with pytest.raises(TransactionConflict):  # the API answers it 503
        publish(queued, author, "never")
    assert background.pending_count(ctx) == 0


def test_an_inline_job_that_fails_after_the_commit_does_not_fail_the_write_and_is_queued(
    ctx, make_context, job_queue
):
    inline = make_context(
        mongo_uri="mongodb://127.0.0.1:1/?directConnection=true", store_connect_timeout=0.3
    )
    author = with_fans(inline, 1)

    published = publish(inline, author, "inline")

    assert published.slug == "inline"
    assert background.pending_count(ctx) == 1  # the fan-out, for the queue's retries
    (retried,) = jobs.queue(ctx.stores.redis, job_queue).get_jobs()
    assert retried.kwargs["name"] == "notify_followers"
