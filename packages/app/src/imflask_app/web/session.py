"""Who is signed in: the user id in Flask's signed session cookie.

Signing in and out rotate the cookie (``session.clear()`` then a fresh CSRF
nonce). The cookie also carries a fingerprint of the user's password hash, so
changing the password signs out every other browser that held a session, and a
random session id, revoked in Redis on sign-out, so a copy of the cookie taken
before then is refused too.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import current_app, g, session

from imflask_api.deps import context
from imflask_app.web import csrf
from imflask_controllers import sessions, users
from imflask_controllers.errors import Unauthenticated

USER_ID = "uid"
FINGERPRINT = "fp"
SESSION_ID = "sid"


def current_user() -> Any:
    """The signed-in user (a ``UserRow``) of this request, or None; loaded once per request."""
    if "web_user" not in g:
        g.web_user = _load_user()
    return g.web_user


def require_user() -> Any:
    """The signed-in user; ``Unauthenticated`` (a redirect to sign in) when there is none."""
    user = current_user()
    if user is None:
        raise Unauthenticated("session", "is missing; please sign in")
    return user


def sign_in(user_id: int) -> None:
    """Start a fresh session for ``user_id``: nothing of the previous cookie survives."""
    user = users.user_by_id(context(), user_id)
    if user is None:
        raise Unauthenticated("session", "belongs to no user")
    _revoke()
    _forget()
    session[USER_ID] = user.id
    session[FINGERPRINT] = _fingerprint(user)
    session[SESSION_ID] = sessions.new_web_session_id()
    g.web_user = user


def sign_out() -> None:
    """End the session, copies of its cookie included; the next cookie carries only a new
    CSRF nonce."""
    _revoke()
    _forget()
    g.web_user = None


def _revoke() -> None:
    """Refuse this session's id from now on, in every copy of the cookie."""
    session_id = session.get(SESSION_ID)
    if isinstance(session_id, str):
        lifetime = int(current_app.permanent_session_lifetime.total_seconds())
        sessions.end_web_session(context(), session_id, lifetime=lifetime)


def _load_user() -> Any:
    user_id, session_id = session.get(USER_ID), session.get(SESSION_ID)
    if not isinstance(user_id, int):
        return None
    if not isinstance(session_id, str) or sessions.web_session_ended(context(), session_id):
        _forget()  # signed out elsewhere with a copy of this cookie
        return None
    user = users.user_by_id(context(), user_id)
    held = str(session.get(FINGERPRINT, ""))
    if user is None or not hmac.compare_digest(held.encode(), _fingerprint(user).encode()):
        _forget()  # deleted account, or the password changed since this session began
        return None
    return user


def _forget() -> None:
    """Empty the session, with a fresh CSRF nonce (no revocation: see ``_revoke``)."""
    session.clear()
    csrf.new_token()


def _fingerprint(user: Any) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"{user.id}:{user.password_hash}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]
