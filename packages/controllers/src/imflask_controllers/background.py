"""Work that need not finish before the response: queued for ``imflask-worker``.

Jobs are named by their import path in ``imflask_worker.jobs`` so controllers
never import the worker. In development and testing (``FLASK_JOBS_INLINE``)
they run right here, and so they do whenever the queue cannot be reached:
late work is better than lost work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from imflask_controllers.context import Context
from imflask_core.errors import StoreUnavailable
from imflask_core.observability import request_id_var
from imflask_models.redis import jobs

log = logging.getLogger(__name__)


def run_in_background(ctx: Context, job: str, run_here: Callable[..., Any], **kwargs: Any) -> None:
    """Queue ``job(**kwargs)``, retried with backoff; or call ``run_here(ctx, **kwargs)`` now."""
    if not ctx.settings.jobs_inline:
        try:
            jobs.enqueue(
                ctx.stores.redis,
                ctx.settings.jobs_queue,
                job,
                retry_intervals=ctx.settings.job_retry_intervals,
                request_id=request_id_var.get(),
                **kwargs,
            )
            return
        except StoreUnavailable as error:
            log.warning("job queue unavailable, running %s inline: %s", job, error)
    run_here(ctx, **kwargs)
