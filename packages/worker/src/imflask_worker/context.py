"""The worker's context: ``bootstrap``'s, as for the app, with no web stack."""

from __future__ import annotations

import threading

from imflask_controllers.context import Context, bootstrap
from imflask_core.config import load_settings

_lock = threading.Lock()
_context: Context | None = None


def process_context() -> Context:
    """The context of this worker process, built on first use (stores reconnect per pid).

    A job's own follow-up jobs (a fan-out's batches) always go to the queue from
    here, whatever ``FLASK_JOBS_INLINE`` says: a worker is what empties it. The
    worker never migrates (``flask db upgrade`` and the app do).
    """
    global _context
    with _lock:
        if _context is None:
            _context = bootstrap(load_settings().replace(jobs_inline=False), migrate=False)
        return _context
