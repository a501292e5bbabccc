"""The worker's context: the same settings and stores as the app, no web stack."""

from __future__ import annotations

from imflask_controllers.context import Context
from imflask_core.config import load_settings
from imflask_core.embedded import with_embedded_stores


def worker_context(config_name: str | None = None, **overrides: object) -> Context:
    """Settings from the environment (as the app reads them), embedded stores resolved."""
    settings = with_embedded_stores(load_settings(config_name).replace(**overrides))
    return Context.create(settings)
