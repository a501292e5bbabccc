"""Registration, login and the current user (RealWorld's "User and Authentication")."""

from __future__ import annotations

from flask import Blueprint

from imflask_api.auth.cookies import with_refresh_cookie
from imflask_api.deps import context
from imflask_api.errors import RequestInvalid
from imflask_api.idempotency import idempotent
from imflask_api.parsing import parse_body
from imflask_api.schemas import LoginUser, NewUser, UpdateUser
from imflask_api.security import auth_required, client_ip, current_identity
from imflask_api.serializers import user_json
from imflask_controllers import sessions
from imflask_controllers import users as accounts

users = Blueprint("users", __name__)


@users.post("/users")
@idempotent
def register():
    """Register a new user; also sets a refresh-token cookie."""
    data = parse_body(NewUser, "user")
    user = accounts.register_user(
        context(),
        username=data.username,
        email=data.email,
        password=data.password,
        client_ip=client_ip(),
    )
    return with_refresh_cookie(user_json(user), 201, sessions.start_session(context(), user.id))


@users.post("/users/login")
def login():
    """Log in with email and password; also sets a refresh-token cookie."""
    data = parse_body(LoginUser, "user")
    user = accounts.log_in(
        context(), email=data.email, password=data.password, client_ip=client_ip()
    )
    return with_refresh_cookie(user_json(user), 200, sessions.start_session(context(), user.id))


@users.get("/user")
@auth_required
def get_current_user():
    """The signed-in user."""
    identity = current_identity()
    return user_json(accounts.current_user(user=identity.user, token=identity.token))


@users.put("/user")
@auth_required
def update_current_user():
    """Update the signed-in user's fields."""
    data = parse_body(UpdateUser, "user")
    if not data.model_fields_set:
        raise RequestInvalid({"user": ["must have at least one field to update"]})
    identity = current_identity()
    user = accounts.update_user(
        context(), user=identity.user, token=identity.token, changes=data.changes()
    )
    return user_json(user)
