"""Background jobs. Each takes the worker's ``Context`` and plain arguments."""

from __future__ import annotations

from imflask_controllers.context import Context
from imflask_core.errors import StoreUnavailable


def check_stores(ctx: Context) -> dict[str, str]:
    """Ping every store: the smoke job that proves the worker reaches them without Flask."""
    report = {}
    for name, ping in ctx.stores.readiness_checks().items():
        try:
            report[name] = "ok" if ping() else "down"
        except StoreUnavailable:
            report[name] = "down"
    return report
