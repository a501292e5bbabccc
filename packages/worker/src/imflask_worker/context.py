"""The worker's context: the same settings and stores as the app, no web stack."""

from __future__ import annotations

import threading

from imflask_controllers.context import Context
from imflask_core.config import load_settings
from imflask_core.embedded import with_embedded_stores

_lock = threading.Lock()
_context: Context | None = None


def worker_context(config_name: str | None = None, **overrides: object) -> Context:
    """Settings from the environment (as the app reads them), embedded stores resolved."""
    settings = with_embedded_stores(load_settings(config_name).replace(**overrides))
    return Context.create(settings)


def process_context() -> Context:
    """The context of this worker process, built on first use (stores reconnect per pid).

    A job's own follow-up jobs (a fan-out's batches) always go to the queue from
    here, whatever ``FLASK_JOBS_INLINE`` says: a worker is what empties it.
    """
    global _context
    with _lock:
        if _context is None:
            _context = worker_context(jobs_inline=False)
        return _context
