"""Account rules, on the real stores: registration, login, tokens, races."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST

from imflask_controllers import tokens, users
from imflask_controllers.errors import Invalid, Unauthenticated


class CountingHasher(PasswordHasher):
    def __init__(self):
        params = CHEAPEST
        super().__init__(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
            hash_len=params.hash_len,
            salt_len=params.salt_len,
        )
        self.verified = 0

    def verify(self, hash, password):
        self.verified += 1
        return super().verify(hash, password)


def register(ctx, **changes):
    fields = {"username": "jake", "email": "jake@jake.jake", "password": "jakejake", **changes}
    return users.register_user(ctx, client_ip="test", **fields)


def test_a_registered_user_gets_a_token_that_authenticates_them(ctx):
    registered = register(ctx)

    identity = users.authenticate(ctx, registered.token)

    assert identity.user.id == registered.id
    assert identity.user.username == "jake"


def test_the_password_is_stored_hashed(ctx):
    register(ctx)

    with ctx.stores.sql.connection() as conn:
        stored = conn.scalar("SELECT password_hash FROM users")

    assert stored.startswith("$argon2id$")
    assert "jakejake" not in stored


def test_email_is_stored_lower_case_and_logs_in_in_any_case(ctx):
    register(ctx, email="Jake@Jake.JAKE")

    user = users.log_in(ctx, email="JAKE@jake.jake", password="jakejake", client_ip="test")

    assert user.email == "jake@jake.jake"


@pytest.mark.parametrize("taken", ["username", "email"])
def test_a_taken_name_is_invalid_naming_the_field(ctx, taken):
    register(ctx)
    other = {"username": "jacob", "email": "jacob@jake.jake"}
    other[taken] = {"username": "jake", "email": "jake@jake.jake"}[taken]

    with pytest.raises(Invalid) as raised:
        register(ctx, **other)

    assert raised.value.errors == {taken: ["has already been taken"]}


def test_an_unknown_email_costs_a_password_verification_like_a_wrong_password(ctx):
    register(ctx)
    hasher = CountingHasher()
    counted = dataclasses.replace(ctx, passwords=hasher)

    with pytest.raises(Unauthenticated):
        users.log_in(counted, email="nobody@jake.jake", password="jakejake", client_ip="test")
    unknown_email = hasher.verified
    with pytest.raises(Unauthenticated):
        users.log_in(counted, email="jake@jake.jake", password="wrong password", client_ip="test")

    assert unknown_email == 1
    assert hasher.verified == 2


def test_a_hash_with_old_parameters_is_upgraded_at_login(ctx):
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    register(dataclasses.replace(ctx, passwords=weak))
    with ctx.stores.sql.connection() as conn:
        before = conn.scalar("SELECT password_hash FROM users")

    users.log_in(ctx, email="jake@jake.jake", password="jakejake", client_ip="test")

    with ctx.stores.sql.connection() as conn:
        after = conn.scalar("SELECT password_hash FROM users")
    assert before != after
    assert not ctx.passwords.check_needs_rehash(after)


def test_only_one_of_many_concurrent_registrations_of_a_name_wins(ctx):
    start = threading.Barrier(8)

    def attempt(i: int) -> str:
        start.wait()
        try:
            register(ctx, email=f"jake{i}@jake.jake")
        except Invalid as error:
            return next(iter(error.errors))
        return "won"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(8)))

    assert outcomes.count("won") == 1
    assert outcomes.count("username") == 7
    with ctx.stores.sql.connection() as conn:
        assert conn.scalar("SELECT COUNT(*) AS n FROM users") == 1


def test_an_access_token_expires(ctx):
    registered = register(ctx)
    expired = tokens.mint_access_token(
        secret=ctx.settings.secret_key, user_id=registered.id, ttl_seconds=-1
    )

    with pytest.raises(Unauthenticated) as raised:
        users.authenticate(ctx, expired)

    assert raised.value.errors == {"token": ["has expired"]}


def test_a_token_signed_with_another_secret_is_refused(ctx):
    registered = register(ctx)
    forged = tokens.mint_access_token(secret="x" * 48, user_id=registered.id, ttl_seconds=60)

    with pytest.raises(Unauthenticated) as raised:
        users.authenticate(ctx, forged)

    assert raised.value.errors == {"token": ["is invalid"]}


def test_updating_the_email_normalises_it_and_replaces_the_token(ctx):
    registered = register(ctx)
    user = users.authenticate(ctx, registered.token).user

    updated = users.update_user(
        ctx, user=user, token=registered.token, changes={"email": " New@Jake.Jake "}
    )

    assert updated.email == "new@jake.jake"
    assert users.authenticate(ctx, updated.token).user.email == "new@jake.jake"
    with pytest.raises(Unauthenticated, match="revoked"):
        users.authenticate(ctx, registered.token)


def test_the_same_email_in_other_letters_keeps_the_token(ctx):
    registered = register(ctx)
    user = users.authenticate(ctx, registered.token).user

    updated = users.update_user(
        ctx, user=user, token=registered.token, changes={"email": user.email.upper()}
    )

    assert updated.token == registered.token
    assert users.authenticate(ctx, registered.token).user == user


def test_a_token_remembered_as_valid_still_expires(ctx, monkeypatch):
    registered = register(ctx)
    token = tokens.mint_access_token(
        secret=ctx.settings.secret_key, user_id=registered.id, ttl_seconds=60
    )
    users.authenticate(ctx, token)  # verified once, remembered

    class Later(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + timedelta(seconds=61)

    monkeypatch.setattr(tokens, "datetime", Later)

    with pytest.raises(Unauthenticated) as raised:
        users.authenticate(ctx, token)
    assert raised.value.errors == {"token": ["has expired"]}
