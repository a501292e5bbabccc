"""The smoke job, and the import paths jobs had before the registry (for one release).

Jobs are registered by name in the controllers and run through ``imflask_worker.run``.
A job queued by the release before still names its function here
(``imflask_worker.jobs.notify_followers``); each alias below hands it to the entry
point, so the queue drains across the deploy. Remove them in the release after.
"""

from __future__ import annotations

from imflask_controllers.context import Context
from imflask_core.errors import StoreUnavailable
from imflask_worker.run import run_job


def check_stores(ctx: Context) -> dict[str, str]:
    """Ping every store: the smoke job that proves the worker reaches them without Flask."""
    report = {}
    for name, ping in ctx.stores.readiness_checks().items():
        try:
            report[name] = "ok" if ping() else "down"
        except StoreUnavailable:
            report[name] = "down"
    return report


# Legacy aliases: remove in the release after the registry's.


def notify_followers(**kwargs: object) -> object:
    return run_job("notify_followers", kwargs)


def notify_follower_batch(**kwargs: object) -> object:
    return run_job("notify_follower_batch", kwargs)


def delete_comments_of_article(**kwargs: object) -> object:
    return run_job("delete_comments_of_article", kwargs)
