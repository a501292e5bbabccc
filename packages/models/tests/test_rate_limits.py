"""The sliding-window counters and the trusted login addresses, on the run's Redis."""

from __future__ import annotations

from imflask_models.redis import rate_limits


def test_a_refused_request_takes_no_room_in_the_window(ctx):
    store = ctx.stores.redis

    verdicts = [rate_limits.hit(store, "probe", "one", limit=2, window=60) for _ in range(4)]

    assert [v.allowed if v else None for v in verdicts] == [True, True, False, False]
    assert [v.remaining if v else None for v in verdicts] == [1, 0, 0, 0]
    assert store.client.zcard(store.key("rate", "probe", "one")) == 2
    assert 0 < store.client.pttl(store.key("rate", "probe", "one")) <= 60_000


def test_an_account_keeps_its_twenty_latest_addresses_for_thirty_days(ctx):
    store = ctx.stores.redis
    for i in range(21):
        rate_limits.trust(store, "login", "account", f"address{i}")

    assert not rate_limits.trusted(store, "login", "account", "address0")
    assert rate_limits.trusted(store, "login", "account", "address20")
    assert not rate_limits.trusted(store, "login", "other account", "address20")
    assert store.client.zcard(store.key("trusted", "login", "account")) == 20
    assert 0 < store.client.ttl(store.key("trusted", "login", "account")) <= 30 * 24 * 3600
