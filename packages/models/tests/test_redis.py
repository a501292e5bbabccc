"""The key-value store on redis-py: prefixed keys, clean-up, failures."""

from __future__ import annotations

import time

import pytest

from imflask_models.errors import StoreUnavailable
from imflask_models.redis.client import RedisStore


def test_keys_carry_the_configured_prefix(ctx):
    store = ctx.stores.redis

    key = store.key("rate", "login", 42)

    assert key == f"{ctx.settings.redis_key_prefix}rate:login:42"


def test_a_value_round_trips(ctx):
    store = ctx.stores.redis
    store.client.set(store.key("probe"), "value", ex=60)

    assert store.client.get(store.key("probe")) == "value"


def test_deleting_all_keys_stays_inside_the_prefix(ctx):
    store = ctx.stores.redis
    outsider = f"not_{ctx.settings.redis_key_prefix}probe"
    store.client.set(outsider, "keep", ex=60)
    for i in range(1200):
        store.client.set(store.key("probe", i), i, ex=60)

    deleted = store.delete_all_keys()

    assert deleted == 1200
    assert store.client.get(outsider) == "keep"
    store.client.delete(outsider)


def test_an_unreachable_server_raises_store_unavailable_within_the_timeout():
    store = RedisStore("redis://127.0.0.1:1/0", "x:", connect_timeout=0.5, read_timeout=0.5)
    started = time.monotonic()

    with pytest.raises(StoreUnavailable) as raised:
        store.ping()

    assert raised.value.store == "redis"
    assert time.monotonic() - started < 5
