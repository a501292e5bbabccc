"""The Redis client of one process and the key builder every key family goes through."""

from __future__ import annotations

import logging
import os
import threading
import time

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from imflask_models.errors import unavailable_on

STORE = "redis"
log = logging.getLogger(__name__)


# Connection, timeout and server-selection errors become StoreUnavailable("redis").
unavailable_on_failure = unavailable_on(STORE, RedisConnectionError, RedisTimeoutError)


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
        self._down_until = 0.0
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

    # Optional uses of Redis (the cache, rate limits) skip it for a few seconds after
    # a failure instead of paying a timeout on every request of an outage.
    BREAK_SECONDS = 5.0

    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def mark_down(self, error: Exception) -> None:
        if self.available():
            log.warning("redis unavailable, skipping it for %.0fs: %s", self.BREAK_SECONDS, error)
        self._down_until = time.monotonic() + self.BREAK_SECONDS

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
        with self._lock:
            clients = [self._client, self._queue_client]
            self._client = self._queue_client = self._pid = self._queue_pid = None
        for client in clients:
            if client is not None:
                client.close()
