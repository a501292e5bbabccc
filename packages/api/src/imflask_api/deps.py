"""How a view reaches the use cases' context, which the app put on itself."""

from __future__ import annotations

from typing import Any

from flask import current_app

CONTEXT_KEY = "imflask.context"


def context() -> Any:
    """The controllers' ``Context`` of this app (typed loosely: views never look inside)."""
    return current_app.extensions[CONTEXT_KEY]
