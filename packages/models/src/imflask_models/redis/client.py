"""The Redis client of one process and the key builder every key family goes through."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel

from imflask_core.config import SentinelTarget
from imflask_core.errors import StoreUnavailable
from imflask_models.breaker import CircuitBreaker
from imflask_models.errors import unavailable_on

STORE = "redis"

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long a security write waits for a replica's acknowledgement (see write_confirmed).
REPLICA_CONFIRM_MS = 500


def connect(
    url: str,
    *,
    connect_timeout: float,
    read_timeout: float | None,
    retry: Retry | None = None,
    **options: object,
) -> redis.Redis:
    """A client of the Redis ``url`` names: ``redis://`` one server, ``redis+sentinel://``
    the master the sentinels name (see ``imflask_core.config.SentinelTarget``).

    A Sentinel client asks the sentinels for the master's address each time it
    opens a connection, and drops its idle connections when that address
    changed, so it follows a failover without a restart. ``retry`` defaults to
    none: the breaker, not the driver, decides when to try again. The clients
    redis-py makes for the sentinels themselves would retry 10 times with
    backoff (its default): they get no retries and the same timeouts, so a dead
    sentinel costs one refused connection and the next one is asked. Sentinels
    with a ``requirepass`` get ``target.sentinel_password``; the master and its
    replicas get ``target.password``.
    """
    retry = retry if retry is not None else Retry(NoBackoff(), 0)
    timeouts = {"socket_connect_timeout": connect_timeout, "socket_timeout": read_timeout}
    target = SentinelTarget.from_url(url)
    if target is None:
        return redis.Redis.from_url(url, retry=retry, **timeouts, **options)
    sentinel = Sentinel(
        target.sentinels,
        sentinel_kwargs={
            **timeouts,
            "retry": Retry(NoBackoff(), 0),
            "password": target.sentinel_password,
        },
    )
    return sentinel.master_for(
        target.service,
        password=target.password,
        db=target.db,
        retry=retry,
        **timeouts,
        **options,
    )


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
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "health_check_interval": 30,
            "decode_responses": True,
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
                    self._client = connect(self.url, **self._options)
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
                    self._queue_client = connect(self.url, **options)
                    self._queue_pid = pid
        assert self._queue_client is not None
        return self._queue_client

    def write_confirmed(self, write: Callable[[redis.Redis], T]) -> T:
        """Run ``write`` and return once a replica has it too, so that a failover
        cannot promote a replica that lacks it (a revocation, a used refresh token).

        Replication is asynchronous: a master that dies right after answering may
        take its last writes with it. So after the write this asks the master
        ``WAIT 1``, on the same connection (WAIT counts that connection's writes):

        - a replica acknowledged within ``REPLICA_CONFIRM_MS``: done;
        - the master has replicas and none acknowledged in time: ``StoreUnavailable``
          (a 503). The write stays applied on the master (for a revocation, the safe
          side), but it is not acknowledged, since the replica a failover would
          promote may not have it; the caller tries again;
        - the master has no replica connected (a single Redis, or a Sentinel set
          after a failover, before the old master is back as a replica): done, with
          a warning. No replica lacks it, so no failover can lose it; refusing
          would make every logout fail until a replica is back.
        """
        pinned = self.client.client()  # one connection for the write, ROLE and WAIT
        try:
            result = write(pinned)
            role = pinned.execute_command("ROLE")
            replicas = len(role[2]) if role[0] == "master" else 0
            if replicas == 0:
                log.warning("redis: a security write is on the master only (no replica)")
            elif pinned.wait(1, REPLICA_CONFIRM_MS) < 1:
                raise StoreUnavailable(
                    STORE, f"no replica acknowledged the write within {REPLICA_CONFIRM_MS} ms"
                )
            return result
        finally:
            pinned.close()

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
