"""Who is signed in: the user id in Flask's signed session cookie.

Signing in and out rotate the cookie (``session.clear()`` then a fresh CSRF
nonce). The cookie holds a ``sessions.WebSession``: the user id, a fingerprint
that changes with the password (so a new password signs out every other browser
that held a session), and a random session id, revoked in Redis on sign-out, so
a copy of the cookie taken before then is refused too. The controllers make and
check all three; the password hash never reaches this layer.
"""

from __future__ import annotations

from flask import current_app, g, session

from imflask_api.deps import context
from imflask_app.web import csrf
from imflask_controllers import sessions
from imflask_controllers.errors import Unauthenticated
from imflask_controllers.sessions import WebSession
from imflask_controllers.users import User

USER_ID = "uid"
FINGERPRINT = "fp"
SESSION_ID = "sid"


def current_user() -> User | None:
    """The signed-in user of this request, or None; loaded once per request."""
    if "web_user" not in g:
        g.web_user = _load_user()
    return g.web_user


def require_user() -> User:
    """The signed-in user; ``Unauthenticated`` (a redirect to sign in) when there is none."""
    user = current_user()
    if user is None:
        raise Unauthenticated("session", "is missing; please sign in")
    return user


def sign_in(user_id: int) -> None:
    """Start a fresh session for ``user_id``: nothing of the previous cookie survives."""
    user, started = sessions.start_web_session(context(), user_id)
    _revoke()
    _forget()
    session[USER_ID] = started.user_id
    session[FINGERPRINT] = started.fingerprint
    session[SESSION_ID] = started.session_id
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


def _load_user() -> User | None:
    user_id, session_id = session.get(USER_ID), session.get(SESSION_ID)
    if not isinstance(user_id, int):
        return None
    user = None
    if isinstance(session_id, str):
        held = WebSession(user_id, str(session.get(FINGERPRINT, "")), session_id)
        user = sessions.web_session_user(context(), held)
    if user is None:
        _forget()  # signed out elsewhere, deleted account, or a new password since
    return user


def _forget() -> None:
    """Empty the session, with a fresh CSRF nonce (no revocation: see ``_revoke``)."""
    session.clear()
    csrf.new_token()
