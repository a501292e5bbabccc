"""CSRF protection: a random token per session, sent back by every state-changing form.

The token lives in the signed session cookie and goes into each form as the
hidden field ``csrf_token`` (or the ``X-CSRF-Token`` header for ``fetch``). A
POST whose token is missing or differs is refused with 400 before the view
runs, so nothing changes. SameSite=Lax cookies are a second line of defence.
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, request, session

SESSION_KEY = "csrf"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token() -> str:
    """This session's token, made on first use."""
    if not isinstance(session.get(SESSION_KEY), str):
        new_token()
    return session[SESSION_KEY]


def new_token() -> str:
    session[SESSION_KEY] = secrets.token_urlsafe(32)
    return session[SESSION_KEY]


def protect() -> None:
    """``before_request`` of the web blueprint: check the token of every unsafe request."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get(SESSION_KEY)
    sent = request.form.get(FIELD) or request.headers.get(HEADER) or ""
    if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="The form has expired or did not come from this site.")
