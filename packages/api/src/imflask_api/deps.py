"""How a view reaches the use cases' context, which the app put on itself."""

from __future__ import annotations

from flask import current_app

from imflask_controllers.context import Context

CONTEXT_KEY = "imflask.context"


def context() -> Context:
    """The controllers' ``Context`` of this app (views never look inside; they pass it on)."""
    return current_app.extensions[CONTEXT_KEY]
