"""One job registry: jobs are named beside their use case and run by one path, inline or queued."""

from __future__ import annotations

import ast
import importlib
import logging
import re
from pathlib import Path

import pytest

from imflask_controllers import articles, background, jobs, notifications
from imflask_core.observability import JOBS, RequestIdFilter, request_id_var
from imflask_models.mongo import notifications as inbox
from imflask_models.mysql import outbox
from imflask_models.redis import jobs as queue
from imflask_worker.run import check_entry_point, run_job
from testkit import source as source_code

PACKAGES = Path(__file__).resolve().parents[2]
IMPORT_PATH = re.compile(r"imflask_\w+(\.\w+)+\.?")


def notices(ctx) -> int:
    return ctx.stores.mongo.db[inbox.NOTIFICATIONS].count_documents({})


def counted(name: str, outcome: str) -> float:
    return JOBS.labels(name, outcome)._value.get()


class Records(logging.Handler):
    """The log records of one logger, with the request id the app's handler adds."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def job_logs():
    handler = Records()
    logger = logging.getLogger("imflask_controllers")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield handler.records
    logger.setLevel(level)
    logger.removeHandler(handler)


def test_every_job_is_registered_by_name_beside_its_use_case():
    assert jobs.names() == [
        "delete_comments_of_article",
        "notify_follower_batch",
        "notify_followers",
    ]
    assert jobs.registered("notify_followers").function is notifications.notify_followers
    assert jobs.registered("notify_follower_batch").function is notifications.notify_follower_batch
    assert (
        jobs.registered("delete_comments_of_article").function
        is articles.delete_comments_of_article
    )


def test_no_code_names_a_job_by_an_import_path_but_the_entry_point_and_the_legacy_aliases():
    # given every string constant of the packages' source that looks like an import path
    found = {}
    for path in sorted(PACKAGES.glob("*/src/**/*.py")):
        for node in ast.walk(source_code.parse(path.read_text(), str(path))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and IMPORT_PATH.fullmatch(text):
                found.setdefault(text, []).append(path.name)

    # then the worker's entry point is the only one, with the prefix of the old names
    assert found == {
        "imflask_worker.run.run_job": ["jobs.py"],
        "imflask_worker.jobs.": ["jobs.py"],  # the old names' prefix, for one release
    }


def test_the_entry_point_the_controllers_queue_is_the_workers_function():
    module, _, function = jobs.WORKER_ENTRY_POINT.rpartition(".")

    assert getattr(importlib.import_module(module), function) is run_job
    check_entry_point()  # what imflask-worker checks on start


def test_the_worker_refuses_to_start_if_the_entry_point_names_another_function(
    monkeypatch, store_uris, tmp_path
):
    from imflask_worker import cli

    for name, value in {**store_uris.environment(), "FLASK_INSTANCE_PATH": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)  # were it to start, on the test stores
    monkeypatch.setattr(jobs, "WORKER_ENTRY_POINT", "imflask_worker.jobs.run_job")

    with pytest.raises(RuntimeError, match=re.escape("imflask_worker.run.run_job")):
        cli.main(["--burst"])


def test_a_job_is_recorded_only_with_arguments_that_fit_it(ctx):
    with ctx.stores.sql.transaction() as conn:
        with pytest.raises(TypeError):
            background.record(conn, notifications.notify_followers, article=1)
        with pytest.raises(jobs.UnknownJob):
            background.record(conn, articles.get_article, slug="s")
    assert background.pending_count(ctx) == 0


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="already registered"):
        jobs.register_job("notify_followers")(lambda ctx: None)
    assert jobs.registered("notify_followers").function is notifications.notify_followers


def test_an_unknown_job_fails_with_its_name(ctx):
    with pytest.raises(jobs.UnknownJob, match="'no_such_job'"):
        jobs.run(ctx, "no_such_job", {})


def test_an_inline_run_takes_the_jobs_path_request_id_metrics_and_outbox(
    ctx, author_with_fans, job_logs, monkeypatch
):
    # given jobs that run inline (testing), a fan-out in two batches (five followers, three
    # a batch: a fan-out of one batch has no batch job), and the count of each job's runs
    monkeypatch.setattr(notifications, "FAN_OUT_BATCH", 3)
    author, fans = author_with_fans
    before = counted("notify_followers", "succeeded"), counted("notify_follower_batch", "succeeded")

    # when an article is published in a request with an id
    token = request_id_var.set("inline-7")
    try:
        articles.create_article(ctx, author=author, title="t", description="d", body="b", tags=[])
    finally:
        request_id_var.reset(token)

    # then both jobs ran here, counted, in the request's id, and the outbox has nothing left
    assert notices(ctx) == len(fans)
    assert (
        counted("notify_followers", "succeeded"),
        counted("notify_follower_batch", "succeeded"),
    ) == (
        before[0] + 1,
        before[1] + 2,
    )
    logged = {r.getMessage(): r.request_id for r in job_logs if r.name.endswith("notifications")}
    assert set(logged.values()) == {"inline-7"}
    assert {m.rsplit(" ", 1)[1] for m in logged if "new notifications of" in m} == {"3", "2"}
    assert background.pending_count(ctx) == 0


def test_an_inline_job_that_fails_is_counted_logged_and_handed_to_the_queue(
    ctx, make_context, job_logs, job_queue
):
    # given inline jobs whose MongoDB does not answer
    inline = make_context(
        mongo_uri="mongodb://127.0.0.1:1/?directConnection=true", store_connect_timeout=0.3
    )
    before = counted("delete_comments_of_article", "failed")

    # when a job is dispatched after its write
    with inline.stores.sql.transaction() as conn:
        pending = background.record(conn, articles.delete_comments_of_article, article_id=7)
    background.dispatch(inline, pending)

    # then the failure is counted and logged, and the queue holds the job for its retries
    assert counted("delete_comments_of_article", "failed") == before + 1
    assert any(r.getMessage() == "job delete_comments_of_article failed" for r in job_logs)
    (retried,) = queue.queue(ctx.stores.redis, job_queue).get_jobs()
    assert retried.func_name == jobs.WORKER_ENTRY_POINT
    assert retried.kwargs == {"name": "delete_comments_of_article", "kwargs": {"article_id": 7}}
    assert retried.meta["outbox_id"] == pending.outbox_id
    assert background.pending_count(ctx) == 1


def test_jobs_of_the_release_before_still_run_from_the_queue_and_from_the_outbox(
    ctx, author_with_fans, run_worker, job_queue
):
    # given two articles whose fan-outs the code before the registry recorded: one
    # still in the queue under its old import path, one only in the outbox
    author, fans = author_with_fans
    ids = []
    for title in ("queued", "recorded"):
        with ctx.stores.sql.connection() as conn:
            from imflask_models.mysql import articles as articles_table

            ids.append(
                articles_table.insert_article(
                    conn, slug=title, title=title, description="d", body="b", author_id=author.id
                ).id
            )
    with ctx.stores.sql.transaction() as conn:
        in_queue, _in_outbox = (
            outbox.add_job(
                conn,
                job="imflask_worker.jobs.notify_followers",
                kwargs={"article_id": article_id},
                request_id="old",
            )
            for article_id in ids
        )
    queue.enqueue(
        ctx.stores.redis, job_queue, "imflask_worker.jobs.notify_followers",
        retry_intervals=(), request_id="old", outbox_id=in_queue, article_id=ids[0],
        job_id=f"{job_queue}-outbox-{in_queue}",  # as the relay names it: not relayed again
    )  # fmt: skip

    # when a worker of this release runs (relaying the outbox first)
    worker = run_worker()

    # then each follower has both notices and the outbox is done
    assert worker.returncode == 0, worker.stderr
    assert notices(ctx) == 2 * len(fans)
    assert background.pending_count(ctx) == 0
    assert queue.status(ctx.stores.redis, job_queue).failed == 0
