"""The worker's smoke job reaches every store through the models, without Flask."""

from __future__ import annotations

from imflask_controllers.context import Context
from imflask_worker.jobs import check_stores


def test_the_store_check_job_reports_each_store(ctx):
    assert check_stores(ctx) == {"mysql": "ok", "mongo": "ok", "redis": "ok"}


def test_the_store_check_job_reports_a_store_that_is_down(ctx):
    settings = ctx.settings.replace(
        redis_url="redis://127.0.0.1:1/0", store_connect_timeout=0.5, store_read_timeout=0.5
    )
    broken = Context.create(settings)
    try:
        report = check_stores(broken)
    finally:
        broken.close()

    assert report == {"mysql": "ok", "mongo": "ok", "redis": "down"}
