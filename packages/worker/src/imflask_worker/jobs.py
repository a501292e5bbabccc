"""Background jobs: module-level functions RQ imports by name, over the controllers.

Each job takes plain arguments, finds the process's ``Context`` (built once per
worker process from the same settings as the app) and calls one controller.
The request id of the request that queued the job is carried into its logs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from imflask_controllers import articles, background, notifications
from imflask_controllers.context import Context
from imflask_core.errors import StoreUnavailable
from imflask_core.observability import JOBS, request_id_var
from imflask_worker.context import process_context

log = logging.getLogger("imflask_worker")
P = ParamSpec("P")
R = TypeVar("R")


def job(function: Callable[P, R]) -> Callable[P, R]:
    """Run with the queuing request's id in the logs, and count the outcome."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from rq import get_current_job

        current = get_current_job()
        meta = current.meta if current else {}
        token = request_id_var.set(meta.get("request_id") or "-")
        try:
            result = function(*args, **kwargs)
            if meta.get("outbox_id") is not None:
                _mark_done(meta["outbox_id"])
        except Exception:
            JOBS.labels(function.__name__, "failed").inc()
            log.exception("job %s failed", function.__name__, extra={"job": function.__name__})
            raise
        finally:
            request_id_var.reset(token)
        JOBS.labels(function.__name__, "succeeded").inc()
        return result

    return wrapper


def _mark_done(outbox_id: int) -> None:
    """Tell the outbox the job ran; if MySQL cannot hear it, the relay runs it again later
    (jobs are idempotent), so this never fails the job."""
    try:
        background.mark_done(process_context(), outbox_id)
    except StoreUnavailable as error:
        log.warning("outbox job %s ran but could not be marked done: %s", outbox_id, error)


@job
def notify_followers(article_id: int) -> int:
    """Split a new article's fan-out into batch jobs (see ``notifications``)."""
    return notifications.notify_followers(process_context(), article_id=article_id)


@job
def notify_follower_batch(article_id: int, follower_ids: list[int]) -> int:
    """Notify one batch of followers (see ``notifications.notify_follower_batch``)."""
    return notifications.notify_follower_batch(
        process_context(), article_id=article_id, follower_ids=follower_ids
    )


@job
def delete_comments_of_article(article_id: int) -> int:
    """Delete a deleted article's comments (see ``articles.delete_article``)."""
    return articles.delete_comments_of_article(process_context(), article_id=article_id)


def check_stores(ctx: Context) -> dict[str, str]:
    """Ping every store: the smoke job that proves the worker reaches them without Flask."""
    report = {}
    for name, ping in ctx.stores.readiness_checks().items():
        try:
            report[name] = "ok" if ping() else "down"
        except StoreUnavailable:
            report[name] = "down"
    return report
