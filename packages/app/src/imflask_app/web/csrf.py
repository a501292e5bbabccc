"""CSRF protection: a random token per session, sent back by every state-changing form.

The token lives in the signed session cookie and goes into each form as the
hidden field ``csrf_token`` (or the ``X-CSRF-Token`` header for ``fetch``). A
POST whose token is missing or differs is refused with 400 before the view
runs, so nothing changes. SameSite=Lax cookies are a second line of defence.

Pages are compressed (``imflask_app.compression``), so each page carries the token
under a fresh one-time pad (``masked_token``): the bytes differ in every response,
and a page's compressed size tells nothing about the token (BREACH). The bare
token is accepted too; it is in no page.
"""

from __future__ import annotations

import base64
import binascii
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


def masked_token() -> str:
    """This session's token XORed with a fresh random pad, the pad in front: what a page shows."""
    secret = token().encode()
    pad = secrets.token_bytes(len(secret))
    return base64.urlsafe_b64encode(pad + _xor(pad, secret)).decode()


def unmasked(sent: str) -> bytes:
    """The token a form sent, unmasked if it was masked (a bare token is kept as it is)."""
    try:
        raw = base64.urlsafe_b64decode(sent.encode())
    except (binascii.Error, ValueError):
        return sent.encode()
    half = len(raw) // 2
    if not raw or len(raw) % 2:
        return sent.encode()
    return _xor(raw[:half], raw[half:])


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def protect() -> None:
    """``before_request`` of the web blueprint: check the token of every unsafe request."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get(SESSION_KEY)
    sent = request.form.get(FIELD) or request.headers.get(HEADER) or ""
    if not isinstance(expected, str) or not (
        hmac.compare_digest(sent.encode(), expected.encode())
        or hmac.compare_digest(unmasked(sent), expected.encode())
    ):
        abort(400, description="The form has expired or did not come from this site.")
