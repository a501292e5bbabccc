"""Profiles: read one, follow, unfollow."""

from __future__ import annotations

from flask import Blueprint

from imflask_api.deps import context
from imflask_api.idempotency import idempotent
from imflask_api.security import auth_optional, auth_required, current_user
from imflask_api.serializers import profile_json
from imflask_controllers import profiles as profile_cases

profiles = Blueprint("profiles", __name__, url_prefix="/profiles")


@profiles.get("/<username>")
@auth_optional
def get_profile(username: str):
    """A user's profile; ``following`` is for the signed-in user."""
    return profile_json(
        profile_cases.get_profile(context(), username=username, viewer=current_user())
    )


@profiles.post("/<username>/follow")
@auth_required
@idempotent
def follow(username: str):
    """Follow a user."""
    return profile_json(
        profile_cases.follow_user(context(), username=username, follower=current_user())
    )


@profiles.delete("/<username>/follow")
@auth_required
def unfollow(username: str):
    """Stop following a user."""
    return profile_json(
        profile_cases.unfollow_user(context(), username=username, follower=current_user())
    )
