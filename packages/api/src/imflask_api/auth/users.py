"""Registration, login and the current user (RealWorld's "User and Authentication")."""

from __future__ import annotations

from flask import Blueprint

from imflask_api.deps import context
from imflask_api.errors import RequestInvalid
from imflask_api.parsing import parse_body
from imflask_api.schemas import LoginUser, NewUser, UpdateUser
from imflask_api.security import auth_required, current_token, current_user
from imflask_api.serializers import user_json
from imflask_controllers import users as accounts

users = Blueprint("users", __name__)


@users.post("/users")
def register():
    """Register a new user."""
    data = parse_body(NewUser, "user")
    user = accounts.register_user(
        context(), username=data.username, email=data.email, password=data.password
    )
    return user_json(user), 201


@users.post("/users/login")
def login():
    """Log in with email and password."""
    data = parse_body(LoginUser, "user")
    user = accounts.log_in(context(), email=data.email, password=data.password)
    return user_json(user)


@users.get("/user")
@auth_required
def get_current_user():
    """The signed-in user."""
    return user_json(accounts.current_user(user=current_user(), token=current_token()))


@users.put("/user")
@auth_required
def update_current_user():
    """Update the signed-in user's fields."""
    data = parse_body(UpdateUser, "user")
    if not data.model_fields_set:
        raise RequestInvalid({"user": ["must have at least one field to update"]})
    user = accounts.update_user(
        context(), user=current_user(), token=current_token(), changes=data.changes()
    )
    return user_json(user)
