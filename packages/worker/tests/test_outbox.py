"""The outbox: a job is recorded with the write that caused it and relayed until it has run."""

from __future__ import annotations

import pytest

from imflask_controllers import background
from imflask_core.errors import TransactionConflict
from imflask_models.mongo import notifications as inbox
from imflask_models.mysql import tags as tags_table
from imflask_models.redis import jobs

CLOSED_REDIS = "redis://127.0.0.1:1/0"


def sign_up(client, name):
    response = client.post(
        "/api/users",
        json={"user": {"username": name, "email": f"{name}@x.io", "password": "password1"}},
    )
    return {"Authorization": f"Token {response.get_json()['user']['token']}"}


def publish(client, headers, title):
    return client.post(
        "/api/articles",
        headers=headers,
        json={"article": {"title": title, "description": "d", "body": "b", "tagList": ["t"]}},
    )


@pytest.fixture
def author_and_fans(make_app, job_queue):
    client = make_app(jobs_inline=False).test_client()
    author = sign_up(client, "author")
    for i in range(4):
        client.post("/api/profiles/author/follow", headers=sign_up(client, f"fan{i}"))
    return client, author


def notices(ctx) -> int:
    return ctx.stores.mongo.db[inbox.NOTIFICATIONS].count_documents({})


def test_jobs_the_queue_lost_are_relayed_and_run(ctx, author_and_fans, run_worker, job_queue):
    client, author = author_and_fans
    for i in range(3):
        assert publish(client, author, f"news {i}").status_code == 201
    assert jobs.status(ctx.stores.redis, job_queue).queued == 3
    jobs.drop_queue(ctx.stores.redis, job_queue)  # Redis lost its data

    worker = run_worker()

    assert worker.returncode == 0, worker.stderr
    assert worker.stderr.count("the queue did not hold it") == 3
    assert notices(ctx) == 3 * 4
    assert background.pending_count(ctx) == 0


def test_a_publish_while_the_queue_is_down_answers_201_and_is_delivered_later(
    ctx, make_app, run_worker, job_queue
):
    app = make_app(jobs_inline=False, store_connect_timeout=0.3)
    client = app.test_client()
    author = sign_up(client, "author")
    client.post("/api/profiles/author/follow", headers=sign_up(client, "fan"))
    app.extensions["imflask.context"].stores.redis.url = CLOSED_REDIS  # the queue goes away
    app.extensions["imflask.context"].stores.redis.forget_client()

    published = publish(client, author, "while down")

    assert published.status_code == 201
    assert background.pending_count(ctx) == 1
    assert run_worker().returncode == 0
    assert notices(ctx) == 1
    assert background.pending_count(ctx) == 0


def test_a_job_done_is_not_relayed_again(ctx, author_and_fans, run_worker, job_queue):
    client, author = author_and_fans
    publish(client, author, "once")
    assert run_worker().returncode == 0
    assert notices(ctx) == 4
    jobs.drop_queue(ctx.stores.redis, job_queue)  # finished jobs forgotten by Redis

    assert background.relay(ctx) == 0
    assert background.pending_count(ctx) == 0


def test_a_write_that_fails_records_no_job(ctx, author_and_fans, monkeypatch):
    client, author = author_and_fans

    def conflicted(conn, article_id, tag_ids):
        raise TransactionConflict("deadlock")

    monkeypatch.setattr(tags_table, "add_article_tags", conflicted)

    assert publish(client, author, "never").status_code == 503
    assert background.pending_count(ctx) == 0


def test_an_inline_job_that_fails_after_the_commit_does_not_fail_the_write(ctx, make_app):
    app = make_app(mongo_uri="mongodb://127.0.0.1:1/?directConnection=true",
                   store_connect_timeout=0.3)  # fmt: skip
    client = app.test_client()
    author = sign_up(client, "author")
    client.post("/api/profiles/author/follow", headers=sign_up(client, "fan"))

    published = publish(client, author, "inline")

    assert published.status_code == 201
    assert published.get_json()["article"]["slug"] == "inline"
    assert background.pending_count(ctx) == 1  # for the relay, once MongoDB is back
