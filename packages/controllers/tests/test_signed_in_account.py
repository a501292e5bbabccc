"""The signed-in user's account, cached for ``authenticate``: never stale, never a credential."""

from __future__ import annotations

import dataclasses

import pytest

from imflask_controllers import sessions, users
from imflask_controllers.errors import Unauthenticated


def register(ctx, name="jake"):
    return users.register_user(
        ctx, username=name, email=f"{name}@example.org", password="jakejake", client_ip="::1"
    )


def cached_values(ctx) -> list[str]:
    redis = ctx.stores.redis
    keys = list(redis.client.scan_iter(match=redis.key("cache", "signed-in-user", "*")))
    return [redis.client.get(key) for key in keys]


def test_the_next_authentication_after_an_account_change_sees_the_change(ctx):
    registered = register(ctx)
    before = users.authenticate(ctx, registered.token).user  # now cached

    changed = users.update_user(
        ctx,
        user=before,
        token=registered.token,
        changes={"username": "jacob", "email": "jacob@example.org", "bio": "new"},
    )
    after = users.authenticate(ctx, changed.token).user  # a new email: a fresh token

    assert (after.id, after.username, after.email, after.bio) == (
        registered.id,
        "jacob",
        "jacob@example.org",
        "new",
    )
    assert after == dataclasses.replace(
        before, username="jacob", email="jacob@example.org", bio="new"
    )


def test_an_authenticated_account_is_cached_without_its_password_hash(ctx):
    registered = register(ctx)

    identity = users.authenticate(ctx, registered.token)

    assert not hasattr(identity.user, "password_hash")  # a users.User has none
    values = cached_values(ctx)
    assert len(values) == 1
    assert '"jake@example.org"' in values[0]
    assert "argon2" not in values[0]


def test_a_second_authentication_reads_the_cached_account(ctx):
    # given an account authenticated once, then changed in MySQL behind the use cases' back
    registered = register(ctx)
    users.authenticate(ctx, registered.token)
    with ctx.stores.sql.connection() as conn:
        conn.execute("UPDATE users SET bio = 'behind the back' WHERE id = %(id)s",
                     {"id": registered.id})  # fmt: skip

    # when the same user authenticates again
    user = users.authenticate(ctx, registered.token).user

    # then the account came from the cache (a write through the use cases invalidates it)
    assert user.bio is None


def test_a_logged_out_token_is_refused_although_the_account_is_cached(ctx):
    registered = register(ctx)
    identity = users.authenticate(ctx, registered.token)

    sessions.log_out(ctx, access=identity.claims, refresh_token=None)

    with pytest.raises(Unauthenticated) as refused:
        users.authenticate(ctx, registered.token)
    assert refused.value.errors == {"token": ["has been revoked"]}
