"""Error reporting from the worker: a job that failed its last retry reaches Sentry once
(the real SDK in a real ``imflask-worker``, sending to testkit/sentry_receiver.py), with
no secret in it; without a DSN the SDK is never imported, and with one Flask still is not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from imflask_controllers import background, notifications
from imflask_models.mysql import articles as articles_table
from imflask_models.redis import jobs
from testkit.sentry_receiver import SentryReceiver

ROOT = Path(__file__).resolve().parents[3]
SECRET_KEY = "worker-sentry-signing-key-" + "w" * 24
MONGO_PASSWORD = "mongo-Pa55word-of-the-worker"
DOWN_MONGO = f"mongodb://imflask:{MONGO_PASSWORD}@127.0.0.1:1/?directConnection=true"


def test_a_job_that_fails_its_last_retry_reaches_sentry_once_without_a_secret(
    ctx, author_with_fans, run_worker, job_queue
):
    author, _ = author_with_fans
    with ctx.stores.sql.connection() as conn:
        article_id = articles_table.insert_article(
            conn, slug="s", title="t", description="d", body="b", author_id=author.id
        ).id
    background.enqueue(
        ctx,
        notifications.notify_followers,
        retry_intervals=(0, 0),
        request_id="sentry-job-1",
        article_id=article_id,
    )

    with SentryReceiver() as receiver:
        failing = run_worker(
            FLASK_SENTRY_DSN=receiver.dsn,
            FLASK_SECRET_KEY=SECRET_KEY,
            FLASK_MONGO_URI=DOWN_MONGO,
            FLASK_STORE_CONNECT_TIMEOUT="0.3",
            FLASK_STORE_READ_TIMEOUT="0.3",
        )
        events = receiver.wait_for_events(1)

    assert failing.returncode == 0, failing.stderr
    # the fan-out (five followers: one batch, its own) failed three times on MongoDB (a try
    # and two retries), then for good
    assert failing.stderr.count("job notify_followers failed") == 3
    assert len(jobs.failed_jobs(ctx.stores.redis, job_queue)) == 1
    assert receiver.errors == []
    (event,) = events  # the last failure only: RQ retried the two before
    (error,) = event["exception"]["values"]
    assert error["type"] == "StoreUnavailable"
    assert error["module"] == "imflask_core.errors"
    assert "127.0.0.1:1: [Errno 111] Connection refused" in error["value"]
    assert error["mechanism"] == {"type": "rq", "handled": False}
    assert event["extra"]["rq-job"]["func"] == "imflask_worker.run.run_job"
    assert "notify_followers" in event["extra"]["rq-job"]["description"]
    crumbs = [crumb.get("message") for crumb in event["breadcrumbs"]["values"]]
    assert "job notify_followers failed" in crumbs  # the attempt's log line
    assert "flask" not in event["sdk"]["integrations"]
    assert "rq" in event["sdk"]["integrations"]
    sent = receiver.everything()
    for secret in (SECRET_KEY, MONGO_PASSWORD, "password1"):
        assert secret.encode() not in sent, secret


def test_the_worker_imports_sentry_only_with_a_dsn_and_flask_never(ctx, store_uris, tmp_path):
    code = """
import json, sys
from imflask_worker.context import process_context
from imflask_worker.run import run_job
run_job("notify_followers", {"article_id": 1})
process_context().close()
web = {"flask", "werkzeug", "imflask_api", "imflask_app"}
print(json.dumps({
    "sentry": "sentry_sdk" in sys.modules,
    "web": sorted(m for m in sys.modules if m.split(".")[0] in web),
}))
"""
    env = {key: value for key, value in os.environ.items() if key != "FLASK_SENTRY_DSN"}
    env.update(store_uris.environment(), FLASK_INSTANCE_PATH=str(tmp_path))

    def run(**extra: str) -> dict:
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={**env, **extra},
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    with SentryReceiver() as receiver:
        assert run() == {"sentry": False, "web": []}
        assert run(FLASK_SENTRY_DSN=receiver.dsn) == {"sentry": True, "web": []}
