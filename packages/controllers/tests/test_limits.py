"""The use cases apply the rate limits themselves: a caller without any view is limited."""

from __future__ import annotations

import dataclasses

import pytest

from imflask_controllers import articles, limits, notifications, profiles, seeding, users
from imflask_controllers.errors import RateLimited, Unauthenticated
from imflask_core.config import RateLimit


def with_limits(ctx, **limits):
    return dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, **limits))


def register(ctx, name: str):
    registered = users.register_user(
        ctx, username=name, email=f"{name}@conduit.test", password="password1", client_ip="cli"
    )
    return users.authenticate(ctx, registered.token).user


def test_a_write_use_case_called_directly_is_limited_per_user(ctx):
    strict = with_limits(ctx, rate_limit_writes=RateLimit(2, 3600))
    jake, jane = register(ctx, "jake"), register(ctx, "jane")

    articles.create_article(strict, author=jake, title="One", description="d", body="b", tags=[])
    profiles.follow_user(strict, username="jane", follower=jake)
    with pytest.raises(RateLimited) as raised:
        notifications.mark_read(strict, user=jake)

    assert 1 <= raised.value.retry_after <= 3600
    assert notifications.mark_read(strict, user=jane) == 0  # another user has their own count


def test_a_limited_write_writes_nothing(ctx):
    strict = with_limits(ctx, rate_limit_writes=RateLimit(1, 3600))
    jake = register(ctx, "jake")
    articles.create_article(strict, author=jake, title="One", description="d", body="b", tags=[])

    with pytest.raises(RateLimited):
        articles.create_article(
            strict, author=jake, title="Two", description="d", body="b", tags=[]
        )

    assert [a.title for a in articles.list_articles(ctx, viewer=None).articles] == ["One"]


def test_logins_called_directly_are_limited_per_address_and_per_account(ctx):
    strict = with_limits(ctx, rate_limit_auth=RateLimit(2, 3600))
    register(ctx, "jake")

    for _ in range(2):
        with pytest.raises(Unauthenticated):
            users.log_in(strict, email="jake@conduit.test", password="wrong", client_ip="10.0.0.1")
    with pytest.raises(RateLimited):  # the account's count, from another address
        users.log_in(strict, email="jake@conduit.test", password="password1", client_ip="10.0.0.2")
    with pytest.raises(RateLimited):  # the first address's count, for another account
        users.log_in(strict, email="jane@conduit.test", password="password1", client_ip="10.0.0.1")


def test_an_address_that_signed_in_before_skips_the_accounts_count(ctx):
    strict = with_limits(ctx, rate_limit_auth=RateLimit(2, 3600))
    register(ctx, "jake")
    users.log_in(strict, email="jake@conduit.test", password="password1", client_ip="10.0.0.1")
    with pytest.raises(Unauthenticated):  # a stranger spends the account's count
        users.log_in(strict, email="jake@conduit.test", password="guess", client_ip="10.6.6.6")

    signed_in = users.log_in(
        strict, email="jake@conduit.test", password="password1", client_ip="10.0.0.1"
    )

    assert signed_in.email == "jake@conduit.test"
    with pytest.raises(RateLimited):  # and strangers still meet it
        users.log_in(strict, email="jake@conduit.test", password="guess", client_ip="10.7.7.7")


def test_registrations_called_directly_are_limited(ctx):
    strict = with_limits(ctx, rate_limit_auth=RateLimit(1, 3600))
    users.register_user(
        strict, username="jake", email="jake@conduit.test", password="password1", client_ip="cli"
    )

    with pytest.raises(RateLimited):
        users.register_user(
            strict,
            username="jane",
            email="jane@conduit.test",
            password="password1",
            client_ip="cli",
        )


def test_seeding_is_not_a_users_write_and_is_never_limited(ctx):
    strict = with_limits(
        ctx, rate_limit_writes=RateLimit(1, 3600), rate_limit_auth=RateLimit(1, 3600)
    )

    report = seeding.seed(strict, seeding.SeedPlan(users=5, articles=20, seed=9))

    assert (report.users, report.articles) == (5, 20)
    assert articles.list_articles(ctx, viewer=None).total == 20


def test_trusted_addresses_and_accounts_are_stored_as_digests(ctx):
    store = ctx.stores.redis

    limits.signed_in(ctx, client_ip="10.1.2.3", account="Jake@Jake.Jake")

    keys = list(store.client.scan_iter(match=store.key("trusted", "*")))
    assert len(keys) == 1
    assert "jake" not in keys[0].lower()
    assert store.client.zrange(keys[0], 0, -1) != ["10.1.2.3"]
    assert len(store.client.zrange(keys[0], 0, -1)[0]) == 32
