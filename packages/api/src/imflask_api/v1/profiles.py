"""Profiles: read one, follow, unfollow."""

from __future__ import annotations

from flask import Blueprint

from imflask_api.deps import context
from imflask_api.idempotency import idempotent
from imflask_api.openapi import operation
from imflask_api.responses import ProfileResponse
from imflask_api.security import auth_optional, auth_required, current_user, require_user
from imflask_api.serializers import profile_json
from imflask_controllers import profiles as profile_cases

profiles = Blueprint("profiles", __name__, url_prefix="/profiles")


@profiles.get("/<username>")
@auth_optional
@operation("Profile", "GetProfileByUsername", answers=(200, ProfileResponse), errors=(404,))
def get_profile(username: str):
    """Get a profile

    A user's profile; `following` says whether the caller follows them (false without a
    token). Auth is optional, but a token that is sent must be valid.
    """
    return profile_json(
        profile_cases.get_profile(context(), username=username, viewer=current_user())
    )


@profiles.post("/<username>/follow")
@auth_required
@idempotent
@operation("Profile", "FollowUserByUsername", answers=(200, ProfileResponse), errors=(404, 422))
def follow(username: str):
    """Follow a user

    Follow a user; following twice is the same as once. Following yourself is 422.
    """
    return profile_json(
        profile_cases.follow_user(context(), username=username, follower=require_user())
    )


@profiles.delete("/<username>/follow")
@auth_required
@operation("Profile", "UnfollowUserByUsername", answers=(200, ProfileResponse), errors=(404,))
def unfollow(username: str):
    """Unfollow a user

    Stop following a user; unfollowing someone not followed is not an error.
    """
    return profile_json(
        profile_cases.unfollow_user(context(), username=username, follower=require_user())
    )
