"""Where to go after a form: a ``next`` path on this site, never another site."""

from __future__ import annotations

from flask import request


def safe_next(default: str) -> str:
    """``next`` from the form or query string when it is a local path; ``default`` otherwise.

    ``//host`` and ``/\\host`` are other sites to a browser, so they are refused too.
    """
    target = request.form.get("next") or request.args.get("next") or ""
    local = target.startswith("/") and not target.startswith(("//", "/\\"))
    if local and target.isprintable() and "\\" not in target:
        return target
    return default
