"""Use cases of profiles: read one, follow and unfollow."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypedDict

from imflask_controllers import caches, effects, limits
from imflask_controllers.context import Context
from imflask_controllers.errors import Invalid, NotFound
from imflask_controllers.users import User, user_of
from imflask_models.mysql import follows
from imflask_models.mysql import users as users_table
from imflask_models.mysql.database import SqlConnection


class PublicProfile(TypedDict):
    """What anyone may see of a user, as the cache keeps it."""

    id: int
    username: str
    bio: str | None
    image: str | None


@dataclass(frozen=True)
class Profile:
    username: str
    bio: str | None
    image: str | None
    following: bool


def get_profile(ctx: Context, *, username: str, viewer: User | None) -> Profile:
    public = public_profile_by_username(ctx, username)
    if public is None:
        raise NotFound("profile")
    following = False
    if viewer is not None and viewer.id != public["id"]:
        with ctx.stores.sql.connection() as conn:
            following = bool(follows.followed_among(conn, viewer.id, [public["id"]]))
    return _profile(public, following)


@limits.write_limited(by="follower")
def follow_user(ctx: Context, *, username: str, follower: User) -> Profile:
    target = _target(ctx, username)
    if target.id == follower.id:
        raise Invalid("username", "is you; you cannot follow yourself")
    # A transaction, so that an Idempotency-Key's unit of work holds the write too.
    ctx.stores.sql.run_transaction(
        lambda conn: follows.follow(conn, follower_id=follower.id, followed_id=target.id)
    )
    effects.follows_changed(ctx, follower_id=follower.id)
    return _profile(public(target), True)


@limits.write_limited(by="follower")
def unfollow_user(ctx: Context, *, username: str, follower: User) -> Profile:
    target = _target(ctx, username)
    ctx.stores.sql.run_transaction(
        lambda conn: follows.unfollow(conn, follower_id=follower.id, followed_id=target.id)
    )
    effects.follows_changed(ctx, follower_id=follower.id)
    return _profile(public(target), False)


def public_profile_by_username(ctx: Context, username: str) -> PublicProfile | None:
    """``{"id", "username", "bio", "image"}`` through the cache."""

    def load() -> PublicProfile | None:
        with ctx.stores.sql.connection() as conn:
            user = users_table.user_by_username(conn, username)
        return None if user is None else public(user_of(user))

    return caches.profile(ctx, username, load)


def profiles_of(
    conn: SqlConnection, user_ids: Iterable[int], viewer: User | None
) -> dict[int, Profile]:
    """Profiles of many users at once, with ``following`` for the viewer (two queries)."""
    public = users_table.public_profiles_by_ids(conn, user_ids)
    followed = follows.followed_among(conn, viewer.id, public) if viewer else set[int]()
    return {
        uid: Profile(p["username"], p["bio"], p["image"], uid in followed)
        for uid, p in public.items()
    }


def _target(ctx: Context, username: str) -> User:
    with ctx.stores.sql.connection() as conn:
        target = users_table.user_by_username(conn, username)
    if target is None:
        raise NotFound("profile")
    return user_of(target)


def public(user: User) -> PublicProfile:
    return {"id": user.id, "username": user.username, "bio": user.bio, "image": user.image}


def _profile(public: PublicProfile, following: bool) -> Profile:
    return Profile(public["username"], public["bio"], public["image"], following)
