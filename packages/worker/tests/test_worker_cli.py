"""``imflask-worker`` refuses to start, naming the reason, on a setting or a Redis that
cannot work."""

from __future__ import annotations


def test_a_setting_that_cannot_work_stops_the_worker_naming_it(run_worker):
    worker = run_worker(FLASK_SENTRY_DSN="sentry.example.com")

    assert worker.returncode == 2
    assert worker.stderr.strip() == (
        "imflask-worker: FLASK_SENTRY_DSN must look like https://KEY@HOST/PROJECT (a Sentry DSN)"
    )


def test_a_burst_on_a_redis_that_does_not_answer_fails_at_once(run_worker):
    worker = run_worker(FLASK_REDIS_URL="redis://127.0.0.1:1/0")

    assert worker.returncode == 1
    assert "imflask-worker: Redis at redis://127.0.0.1:1/0 does not answer:" in worker.stderr
