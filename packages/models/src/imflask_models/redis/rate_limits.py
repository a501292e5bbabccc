"""Sliding-window request counters and trusted login addresses, shared through Redis.

A counter is a sorted set of the requests it let through in the last ``window``
seconds, scored by Redis' own clock (every app process and instance agrees on
it). A Lua script drops the ones older than the window, counts the rest and adds
this one if there is room: atomic, one round trip. So no interval of ``window``
seconds ever lets more than ``limit`` through, wherever it starts (a fixed
window let twice the limit through across its boundary). A refused request is
not recorded: it takes no room from the next ones.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass

from redis.exceptions import RedisError

from imflask_core.observability import store_call
from imflask_models.redis.client import STORE, RedisStore

# KEYS[1] the counter; ARGV: limit, window (ms), a unique member.
# Answers {allowed (0/1), remaining, ms until the oldest counted request leaves}.
SLIDING_WINDOW = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now_ms, now_ms .. ':' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  count = count + 1
  allowed = 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local reset = window
if oldest[2] then reset = tonumber(oldest[2]) + window - now_ms end
return {allowed, limit - count, reset}
"""

# How long an address stays trusted for an account after a successful login, and
# how many addresses an account keeps (the most recent ones).
TRUSTED_FOR = 30 * 24 * 3600
TRUSTED_KEPT = 20


@dataclass(frozen=True)
class Verdict:
    """One counter's answer, with what the ``RateLimit-*`` headers report of it."""

    allowed: bool
    limit: int
    remaining: int  # requests left in the window after this one
    reset: int  # seconds until the oldest counted request leaves the window
    window: int

    @property
    def retry_after(self) -> int:
        """Seconds to wait before a refused request may pass; 0 when allowed."""
        return 0 if self.allowed else self.reset


def hit(store: RedisStore, scope: str, ident: str, *, limit: int, window: int) -> Verdict | None:
    """Count one request of ``ident`` in ``scope``; past ``limit`` in the last ``window``
    seconds it is refused.

    None if Redis does not answer (or its breaker is open): the request is allowed,
    since a limiter outage must not take the API down with it.
    """
    if not store.breaker.allows():
        return None
    script = store.client.register_script(SLIDING_WINDOW)
    key = store.key("rate", scope, ident)
    try:
        with store_call(STORE):
            allowed, remaining, reset_ms = script(
                keys=[key], args=[limit, window * 1000, secrets.token_hex(4)]
            )
    except RedisError as error:
        store.breaker.failed(error)
        return None
    return Verdict(
        allowed=bool(allowed),
        limit=limit,
        remaining=int(remaining),
        reset=max(1, math.ceil(int(reset_ms) / 1000)),
        window=window,
    )


def trust(store: RedisStore, scope: str, account: str, address: str) -> None:
    """Remember that ``address`` signed in to ``account``; a Redis failure forgets it."""
    if not store.breaker.allows():
        return
    key = store.key("trusted", scope, account)
    now = int(time.time())
    try:
        pipe = store.client.pipeline(transaction=True)
        pipe.zadd(key, {address: now})
        pipe.zremrangebyscore(key, "-inf", now - TRUSTED_FOR)
        pipe.zremrangebyrank(key, 0, -TRUSTED_KEPT - 1)
        pipe.expire(key, TRUSTED_FOR)
        with store_call(STORE):
            pipe.execute()
    except RedisError as error:
        store.breaker.failed(error)


def trusted(store: RedisStore, scope: str, account: str, address: str) -> bool:
    """Has ``address`` signed in to ``account`` before? False when Redis cannot say."""
    if not store.breaker.allows():
        return False
    try:
        with store_call(STORE):
            score = store.client.zscore(store.key("trusted", scope, account), address)
    except RedisError as error:
        store.breaker.failed(error)
        return False
    return score is not None and score > time.time() - TRUSTED_FOR
