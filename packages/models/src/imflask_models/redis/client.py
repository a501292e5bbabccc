"""The Redis client of one process and the key builder every key family goes through."""

from __future__ import annotations

import os
import threading

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from imflask_models.breaker import CircuitBreaker
from imflask_models.errors import unavailable_on

STORE = "redis"


# Connection and timeout errors become StoreUnavailable("redis") and open the breaker.
unavailable_on_failure = unavailable_on(
    STORE, RedisConnectionError, RedisTimeoutError, breaker_of=lambda store: store.breaker
)


class RedisStore:
    """One connection pool per process; every key starts with the configured prefix."""

    def __init__(self, url: str, key_prefix: str, *, connect_timeout=2.0, read_timeout=2.0):
        self.url = url
        self.key_prefix = key_prefix
        self._options = {
            "socket_connect_timeout": connect_timeout,
            "socket_timeout": read_timeout,
            "health_check_interval": 30,
            "decode_responses": True,
            "retry_on_timeout": False,
        }
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._client: redis.Redis | None = None
        # Every use of this Redis in this process goes through it: the cache, rate
        # limits, tokens, the job queue. Its probe is the cache epoch bump (cache.py).
        self.breaker = CircuitBreaker(STORE, self.bump_cache_epoch)
        self._queue_pid: int | None = None
        self._queue_client: redis.Redis | None = None

    @property
    def client(self) -> redis.Redis:
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    self._client = redis.Redis.from_url(self.url, **self._options)
                    self._pid = pid
        assert self._client is not None
        return self._client

    @property
    def queue_client(self) -> redis.Redis:
        """A client for RQ, which needs bytes, not decoded strings (same server, same pool
        settings, per process)."""
        pid = os.getpid()
        if self._queue_pid != pid:
            with self._lock:
                if self._queue_pid != pid:
                    options = {**self._options, "decode_responses": False}
                    self._queue_client = redis.Redis.from_url(self.url, **options)
                    self._queue_pid = pid
        assert self._queue_client is not None
        return self._queue_client

    def key(self, *parts: str | int) -> str:
        """``<prefix>part:part``: the only way a key name is made (see ``keys.py``)."""
        return self.key_prefix + ":".join(str(part) for part in parts)

    def cache_epoch_key(self) -> str:
        """The cache's epoch, which every cached value must match (see ``cache.py``)."""
        return self.key("cache-epoch")

    def bump_cache_epoch(self) -> None:
        """Make every value cached so far unreadable, by every process and instance.

        The breaker's probe: a process that saw Redis fail may have skipped
        invalidations, so the first thing it does when Redis answers again is this,
        and it trusts nothing cached before that.
        """
        self.client.incr(self.cache_epoch_key())

    @unavailable_on_failure
    def ping(self) -> bool:
        return bool(self.client.ping())

    @unavailable_on_failure
    def delete_all_keys(self) -> int:
        """Delete every key under this store's prefix (tests and resets, never requests)."""
        deleted = 0
        batch = []
        for key in self.client.scan_iter(match=self.key_prefix + "*", count=500):
            batch.append(key)
            if len(batch) == 500:
                deleted += self.client.delete(*batch)
                batch = []
        if batch:
            deleted += self.client.delete(*batch)
        return deleted

    def forget_client(self) -> None:
        """Drop the client without closing it (after a fork; see ``forget_inherited_clients``)."""
        with self._lock:
            self._client = self._queue_client = None
            self._pid = self._queue_pid = None

    def close(self) -> None:
        self.breaker.close()
        with self._lock:
            clients = [self._client, self._queue_client]
            self._client = self._queue_client = self._pid = self._queue_pid = None
        for client in clients:
            if client is not None:
                client.close()
