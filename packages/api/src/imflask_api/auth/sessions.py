"""The auth extras beyond RealWorld: refresh the access token, log out."""

from __future__ import annotations

from flask import Blueprint, Response

from imflask_api.auth.cookies import (
    refresh_token_from_cookie,
    with_refresh_cookie,
    without_refresh_cookie,
)
from imflask_api.deps import context
from imflask_api.security import auth_optional, current_identity
from imflask_api.serializers import user_json
from imflask_controllers import sessions as auth_sessions
from imflask_controllers.errors import Unauthenticated

sessions = Blueprint("sessions", __name__, url_prefix="/auth")


@sessions.post("/refresh")
def refresh():
    """A new access token for the refresh-token cookie, which is rotated."""
    token = refresh_token_from_cookie()
    if token is None:
        raise Unauthenticated("refresh token", "is missing")
    refreshed = auth_sessions.refresh(context(), refresh_token=token)
    return with_refresh_cookie(user_json(refreshed.user), 200, refreshed.refresh_token)


@sessions.post("/logout")
@auth_optional
def logout():
    """Revoke the presented access token and the refresh token's session."""
    identity = current_identity()
    auth_sessions.log_out(
        context(),
        access=identity.claims if identity else None,
        refresh_token=refresh_token_from_cookie(),
    )
    return without_refresh_cookie(Response(status=204))
