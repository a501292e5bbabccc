"""Browser sessions as the controllers keep them: who they belong to, and what ends them.

The web layer stores a ``WebSession`` in its signed cookie and asks
``web_session_user`` on each request; the password hash never leaves the controllers.
"""

from __future__ import annotations

import dataclasses

import pytest

from imflask_controllers import sessions, users
from imflask_controllers.errors import Unauthenticated
from imflask_controllers.sessions import WebSession
from imflask_controllers.users import User


def register(ctx, username="jake"):
    return users.register_user(
        ctx,
        username=username,
        email=f"{username}@conduit.test",
        password="jakejake",
        client_ip="test",
    )


def stored_hash(ctx, user_id):
    with ctx.stores.sql.connection() as conn:
        return conn.scalar("SELECT password_hash FROM users WHERE id = %(id)s", {"id": user_id})


def test_the_users_the_controllers_hand_out_carry_no_password_hash(ctx):
    # given a registered user
    registered = register(ctx)
    password_hash = stored_hash(ctx, registered.id)

    # when every use case that hands out a user is asked for them
    handed_out = [
        users.authenticate(ctx, registered.token).user,
        users.user_by_id(ctx, registered.id),
        sessions.start_web_session(ctx, registered.id)[0],
    ]
    _, started = sessions.start_web_session(ctx, registered.id)

    # then each is a User with no hash in any field, and the cookie's session shows none
    for user in handed_out:
        assert type(user) is User
        assert "password_hash" not in {field.name for field in dataclasses.fields(user)}
        assert password_hash not in repr(user)
    assert password_hash not in repr(started)
    assert password_hash[-22:] not in started.fingerprint  # not even the digest's tail


def test_a_web_session_belongs_to_its_user_until_the_password_changes(ctx):
    # given a browser session of jake's
    registered = register(ctx)
    user, started = sessions.start_web_session(ctx, registered.id)
    assert sessions.web_session_user(ctx, started) == user

    # when jake sets a new password (in another browser)
    users.update_user(ctx, user=user, token="", changes={"password": "a new password"})

    # then the old session is refused, and a new one is theirs again
    assert sessions.web_session_user(ctx, started) is None
    _, renewed = sessions.start_web_session(ctx, registered.id)
    assert renewed.fingerprint != started.fingerprint
    assert sessions.web_session_user(ctx, renewed).username == "jake"


def test_a_new_email_ends_the_other_web_sessions_too(ctx):
    # given a browser session of jake's
    registered = register(ctx)
    user, started = sessions.start_web_session(ctx, registered.id)

    # when jake changes their email elsewhere (an address change is a credential change)
    users.update_user(ctx, user=user, token="", changes={"email": "jake@elsewhere.test"})

    # then the old session is refused, as after a new password
    assert sessions.web_session_user(ctx, started) is None


def test_the_same_email_in_other_letters_keeps_the_session(ctx):
    registered = register(ctx)
    user, started = sessions.start_web_session(ctx, registered.id)

    users.update_user(ctx, user=user, token="", changes={"email": "JAKE@conduit.test"})

    assert sessions.web_session_user(ctx, started) is not None


def test_a_profile_change_other_than_the_password_keeps_the_session(ctx):
    registered = register(ctx)
    user, started = sessions.start_web_session(ctx, registered.id)

    users.update_user(ctx, user=user, token="", changes={"bio": "I work at statefarm"})

    assert sessions.web_session_user(ctx, started).bio == "I work at statefarm"


def test_a_signed_out_web_session_is_refused_in_every_copy(ctx):
    registered = register(ctx)
    _, started = sessions.start_web_session(ctx, registered.id)

    sessions.end_web_session(ctx, started.session_id, lifetime=60)

    assert sessions.web_session_user(ctx, started) is None
    assert sessions.web_session_user(ctx, dataclasses.replace(started)) is None


def test_a_forged_fingerprint_or_another_users_id_is_refused(ctx):
    # given sessions of jake and of bob
    jake = register(ctx, "jake")
    bob = register(ctx, "bob")
    _, jakes = sessions.start_web_session(ctx, jake.id)
    _, bobs = sessions.start_web_session(ctx, bob.id)

    # then a cookie with a made-up fingerprint, or jake's fingerprint under bob's id, is refused
    assert sessions.web_session_user(ctx, dataclasses.replace(jakes, fingerprint="0" * 32)) is None
    assert sessions.web_session_user(ctx, dataclasses.replace(jakes, user_id=bob.id)) is None
    assert sessions.web_session_user(ctx, bobs).username == "bob"


def test_a_session_for_an_account_that_does_not_exist_cannot_start(ctx):
    with pytest.raises(Unauthenticated) as raised:
        sessions.start_web_session(ctx, 424242)

    assert raised.value.errors == {"session": ["belongs to no user"]}


def test_the_session_ids_of_two_sign_ins_differ(ctx):
    registered = register(ctx)

    _, first = sessions.start_web_session(ctx, registered.id)
    _, second = sessions.start_web_session(ctx, registered.id)

    assert first.session_id != second.session_id
    assert first.fingerprint == second.fingerprint
    assert isinstance(first, WebSession)
