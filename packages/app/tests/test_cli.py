"""The flask commands operators use: seed, jobs, db; help texts and clear failures."""

from __future__ import annotations

import pytest

from imflask_app.factory import context_of


def count(ctx, table: str) -> int:
    with ctx.stores.sql.connection() as conn:
        return conn.scalar(f"SELECT COUNT(*) AS n FROM {table}")  # noqa: S608 - test's table


def test_seeding_inserts_the_plan_and_reports_the_time(app, ctx):
    result = app.test_cli_runner().invoke(
        args=["db", "seed", "--users", "12", "--articles", "40", "--seed", "7"]
    )

    assert result.exit_code == 0, result.output
    assert "seeded 12 users, 40 articles" in result.output
    assert result.output.rstrip().endswith("s")
    assert (count(ctx, "users"), count(ctx, "articles")) == (12, 40)
    assert count(ctx, "article_tags") == 120
    assert count(ctx, "follows") > 0
    assert count(ctx, "favorites") > 0


def test_the_same_seed_twice_adds_nothing_and_gives_the_same_data(app, ctx):
    runner = app.test_cli_runner()
    runner.invoke(args=["db", "seed", "--users", "5", "--articles", "10", "--seed", "3"])
    with ctx.stores.sql.connection() as conn:
        first = conn.all("SELECT slug, author_id FROM articles ORDER BY slug")

    again = runner.invoke(args=["db", "seed", "--users", "5", "--articles", "10", "--seed", "3"])

    assert again.exit_code == 0, again.output
    with ctx.stores.sql.connection() as conn:
        assert conn.all("SELECT slug, author_id FROM articles ORDER BY slug") == first
    runner.invoke(args=["db", "seed", "--users", "5", "--articles", "10", "--seed", "4"])
    assert count(ctx, "articles") == 20


def test_seeded_users_can_log_in(app):
    app.test_cli_runner().invoke(args=["db", "seed", "--users", "2", "--articles", "1"])
    ctx = context_of(app)
    with ctx.stores.sql.connection() as conn:
        email = conn.scalar("SELECT email FROM users ORDER BY id LIMIT 1")

    response = app.test_client().post(
        "/api/users/login", json={"user": {"email": email, "password": "password"}}
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["db", "seed", "--users", "0"], "Invalid value for '--users'"),
        (["db", "seed", "--articles", "many"], "Invalid value for '--articles'"),
        (["jobs", "requeue"], "name job ids to requeue, or pass --all"),
    ],
)
def test_bad_arguments_fail_with_a_clear_message(app, args, message):
    result = app.test_cli_runner().invoke(args=args)

    assert result.exit_code != 0
    assert message in result.output


@pytest.mark.parametrize(
    "args",
    [["db", "seed"], ["jobs", "status"], ["jobs", "failed"], ["jobs", "requeue", "--all"]],
)
def test_an_unreachable_store_fails_with_a_clear_message(make_app, args):
    app = make_app(
        mysql_uri="mysql://root@127.0.0.1:1/nowhere",
        redis_url="redis://127.0.0.1:1/0",
        store_connect_timeout=0.3,
    )

    result = app.test_cli_runner().invoke(args=args)

    assert result.exit_code == 1
    assert "is unavailable" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "group", [["db"], ["db", "seed"], ["db", "upgrade"], ["db", "status"], ["jobs"],
              ["jobs", "status"], ["jobs", "failed"], ["jobs", "requeue"], ["embedded"]],
)  # fmt: skip
def test_every_command_has_help(app, group):
    result = app.test_cli_runner().invoke(args=[*group, "--help"])

    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert len(result.output.splitlines()) > 3


def test_jobs_status_failed_and_requeue_report_the_queue(app, ctx, job_queue):
    from rq import Queue
    from rq.registry import FailedJobRegistry

    from imflask_controllers import background, notifications

    job_id = background.enqueue(
        ctx, notifications.notify_followers, retry_intervals=(), article_id=1
    )
    queue = Queue(job_queue, connection=ctx.stores.redis.queue_client)
    job = queue.fetch_job(job_id)
    queue.remove(job)
    FailedJobRegistry(queue=queue).add(job, exc_string="Traceback...\nStoreUnavailable: boom")
    runner = app.test_cli_runner()

    status = runner.invoke(args=["jobs", "status"])
    failed = runner.invoke(args=["jobs", "failed"])
    requeued = runner.invoke(args=["jobs", "requeue", job_id])

    assert "failed     1" in status.output
    assert job_id in failed.output
    assert "1 failed job(s)" in failed.output
    assert "requeued 1 job(s)" in requeued.output
    assert queue.count == 1


def test_jobs_relay_queues_outbox_jobs_the_queue_lost(make_app, job_queue, monkeypatch):
    from datetime import timedelta

    from imflask_controllers import background
    from imflask_models.redis import jobs

    app = make_app(jobs_inline=False)
    client = app.test_client()
    token = client.post(
        "/api/users",
        json={"user": {"username": "jake", "email": "jake@x.io", "password": "password1"}},
    ).get_json()["user"]["token"]
    client.post(
        "/api/articles",
        headers={"Authorization": f"Token {token}"},
        json={"article": {"title": "t", "description": "d", "body": "b"}},
    )
    ctx = context_of(app)
    jobs.drop_queue(ctx.stores.redis, job_queue)
    runner = app.test_cli_runner()
    assert "outbox     1 not done yet" in runner.invoke(args=["jobs", "status"]).output

    monkeypatch.setattr(background, "RELAY_GRACE", timedelta(0))

    relayed = runner.invoke(args=["jobs", "relay"])

    assert relayed.output == "relayed 1 job(s)\n"
    assert jobs.status(ctx.stores.redis, job_queue).queued == 1
