"""Fixed-window request counters, shared by every app process through Redis."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from redis.exceptions import RedisError

from imflask_core.observability import store_call
from imflask_models.redis.client import STORE, RedisStore


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds until the window resets; 0 when allowed


def hit(store: RedisStore, scope: str, ident: str, *, limit: int, window: int) -> Verdict:
    """Count one request of ``ident`` in ``scope``; over ``limit`` per ``window`` s is refused.

    If Redis does not answer (or its breaker is open) the request is allowed: a
    limiter outage must not take the API down with it.
    """
    if not store.breaker.allows():
        return Verdict(True, 0)
    now = time.time()
    window_start = int(now // window) * window
    key = store.key("rate", scope, ident, window_start)
    try:
        pipe = store.client.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, window + 1)
        with store_call(STORE):
            count, _ = pipe.execute()
    except RedisError as error:
        store.breaker.failed(error)
        return Verdict(True, 0)
    if count <= limit:
        return Verdict(True, 0)
    return Verdict(False, max(1, math.ceil(window_start + window - now)))
