"""Registration, login and the current user (RealWorld's "User and Authentication")."""

from __future__ import annotations

from flask import Blueprint

from imflask_api.auth.cookies import with_refresh_cookie
from imflask_api.deps import context
from imflask_api.errors import RequestInvalid
from imflask_api.idempotency import idempotent
from imflask_api.openapi import SET_COOKIE, Answer, body, operation
from imflask_api.responses import UserResponse
from imflask_api.schemas import LoginUser, NewUser, UpdateUser
from imflask_api.security import auth_required, client_ip, require_identity
from imflask_api.serializers import user_json
from imflask_controllers import sessions
from imflask_controllers import users as accounts

users = Blueprint("users", __name__)
TAG = "User and Authentication"
WITH_COOKIE = (
    "The user, with an access token; the refresh-token cookie is set (when Redis answers)."
)


@users.post("/users")
@idempotent
@operation(
    TAG,
    "CreateUser",
    answers=Answer(201, UserResponse, WITH_COOKIE, SET_COOKIE),
    errors=(429,),
    security=[],
)
@body(NewUser, "user")
def register(data: NewUser):
    """Register

    Register a new user; also sets the refresh-token cookie. A taken username or email is
    422 (`{"email": ["has already been taken"]}`). Counted against the registration rate
    limit, per client address and per email.
    """
    user = accounts.register_user(
        context(),
        username=data.username,
        email=data.email,
        password=data.password,
        client_ip=client_ip(),
    )
    return with_refresh_cookie(user_json(user), 201, sessions.start_session(context(), user.id))


@users.post("/users/login")
@operation(
    TAG,
    "Login",
    answers=Answer(200, UserResponse, WITH_COOKIE, SET_COOKIE),
    errors=(401, 429),
    security=[],
)
@body(LoginUser, "user")
def login(data: LoginUser):
    """Log in

    Log in with email and password; also sets the refresh-token cookie. Counted against
    the login rate limit, per client address and per email.
    """
    user = accounts.log_in(
        context(), email=data.email, password=data.password, client_ip=client_ip()
    )
    return with_refresh_cookie(user_json(user), 200, sessions.start_session(context(), user.id))


@users.get("/user")
@auth_required
@operation(TAG, "GetCurrentUser", answers=(200, UserResponse))
def get_current_user():
    """Get current user

    The signed-in user, with the token that was sent.
    """
    identity = require_identity()
    return user_json(accounts.current_user(user=identity.user, token=identity.token))


@users.put("/user")
@auth_required
@operation(
    TAG,
    "UpdateCurrentUser",
    answers=Answer(
        200, UserResponse, "The user; after a new password or email, a fresh token.", SET_COOKIE
    ),
)
@body(UpdateUser, "user")
def update_current_user(data: UpdateUser):
    """Update current user

    Change the signed-in user's email, username, password, bio or image. At least one
    field is required; only the fields sent change. `bio` and `image` may be null.
    A new password or email revokes every access and refresh token issued before it
    (they get 401): the answer carries a fresh access token, and sets a new
    refresh-token cookie (when Redis answers). Without Redis such a change is 503 and
    nothing changes.
    """
    if not data.model_fields_set:
        raise RequestInvalid({"user": ["must have at least one field to update"]})
    identity = require_identity()
    updated = sessions.update_account(
        context(), user=identity.user, token=identity.token, changes=data.changes()
    )
    return with_refresh_cookie(user_json(updated.user), 200, updated.refresh_token)
