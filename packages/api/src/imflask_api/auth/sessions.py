"""The auth extras beyond RealWorld: refresh the access token, log out."""

from __future__ import annotations

from flask import Blueprint, Response

from imflask_api.auth.cookies import (
    refresh_token_from_cookie,
    with_refresh_cookie,
    without_refresh_cookie,
)
from imflask_api.deps import context
from imflask_api.openapi import SET_COOKIE, Answer, operation
from imflask_api.responses import UserResponse
from imflask_api.security import auth_optional, current_identity
from imflask_api.serializers import user_json
from imflask_controllers import sessions as auth_sessions
from imflask_controllers.errors import Unauthenticated

sessions = Blueprint("sessions", __name__, url_prefix="/auth")
COOKIE_CLEARED = {
    "Set-Cookie": {
        "description": "Expires the `refresh_token` cookie.",
        "schema": {"type": "string"},
    }
}


@sessions.post("/refresh")
@operation(
    "Sessions",
    "RefreshAccessToken",
    answers=Answer(
        200, UserResponse, "The user, with a new access token; the cookie is rotated.", SET_COOKIE
    ),
    errors=(401,),
    security=[{"RefreshCookie": []}],
)
def refresh():
    """Refresh the access token

    Trade the `refresh_token` cookie (set by registration and login) for a new access
    token; the cookie is rotated. A refresh token works once: presenting one that was
    already used revokes every token descended from the same login (401). Without Redis
    this is 503.
    """
    token = refresh_token_from_cookie()
    if token is None:
        raise Unauthenticated("refresh token", "is missing")
    refreshed = auth_sessions.refresh(context(), refresh_token=token)
    return with_refresh_cookie(user_json(refreshed.user), 200, refreshed.refresh_token)


@sessions.post("/logout")
@auth_optional
@operation(
    "Sessions",
    "Logout",
    answers=Answer(204, None, "Logged out; the refresh cookie is cleared.", COOKIE_CLEARED),
    security=[{"Token": [], "RefreshCookie": []}, {"Token": []}, {"RefreshCookie": []}, {}],
)
def logout():
    """Log out

    Revoke the access token sent (until it expires; it then gets 401
    `{"token": ["has been revoked"]}`) and the refresh cookie's session, and clear the
    cookie. Both are optional; a token that is sent must be valid.
    """
    identity = current_identity()
    auth_sessions.log_out(
        context(),
        access=identity.claims if identity else None,
        refresh_token=refresh_token_from_cookie(),
    )
    return without_refresh_cookie(Response(status=204))
