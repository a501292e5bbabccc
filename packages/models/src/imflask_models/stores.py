"""The three stores of one process, built from the settings."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

from imflask_core.config import Settings
from imflask_models.mongo.client import MongoStore
from imflask_models.mysql import migrate
from imflask_models.mysql.database import SqlDatabase
from imflask_models.mysql.replicas import ReadReplicas
from imflask_models.redis.client import RedisStore

_ALL: weakref.WeakSet[Stores] = weakref.WeakSet()


def forget_inherited_clients() -> None:
    """After a fork: drop the parent's clients without closing them (closing would
    end the parent's connections too); each store reconnects on first use."""
    for stores in list(_ALL):
        stores.forget_clients()


def _readiness(store: SqlDatabase | MongoStore | RedisStore) -> Callable[[], bool]:
    """Ping the store; while its breaker is open, run its probe instead (which closes
    the breaker if the store answers), so ``/readyz`` tells the truth within one deadline."""

    def check() -> bool:
        if store.breaker.is_open:
            return store.breaker.probe_now()
        return store.ping()

    return check


def _replica_names(count: int) -> list[str]:
    """``mysql_replica`` for one replica, ``mysql_replica_1``... for several (in
    ``/readyz``, the breakers' logs and metrics)."""
    if count == 1:
        return ["mysql_replica"]
    return [f"mysql_replica_{number}" for number in range(1, count + 1)]


class _Timeouts(TypedDict):
    """Every store client's deadlines, from ``FLASK_STORE_*_TIMEOUT``."""

    connect_timeout: float
    read_timeout: float


@dataclass(eq=False)  # identity, not value: kept in a WeakSet
class Stores:
    sql: SqlDatabase
    mongo: MongoStore
    redis: RedisStore
    # Lists and the feed may read from a replica (FLASK_MYSQL_REPLICA_URI), else the
    # primary: ``imflask_controllers.reads`` decides which, per read.
    replicas: ReadReplicas

    def __post_init__(self) -> None:
        _ALL.add(self)

    @classmethod
    def from_settings(cls, settings: Settings) -> Stores:
        """Nothing connects here: each client is created on first use in each process."""
        if settings.mongo_uri is None or settings.redis_url is None:
            raise ValueError("resolve the embedded stores before building Stores")
        timeouts: _Timeouts = {
            "connect_timeout": settings.store_connect_timeout,
            "read_timeout": settings.store_read_timeout,
        }
        uris = settings.mysql_replica_uris
        # The primary notes each write's GTID only when a replica may have to wait for it.
        sql = SqlDatabase(
            settings.mysql_uri,
            pool_size=settings.sql_pool_size,
            track_writes=bool(uris),
            **timeouts,
        )
        names = _replica_names(len(uris))
        replicas = [
            SqlDatabase(uri, pool_size=settings.sql_pool_size, name=name, **timeouts)
            for name, uri in zip(names, uris, strict=True)
        ]
        return cls(
            sql=sql,
            mongo=MongoStore(settings.mongo_uri, settings.mongo_db_name, **timeouts),
            redis=RedisStore(settings.redis_url, settings.redis_key_prefix, **timeouts),
            replicas=ReadReplicas(sql, replicas, max_lag=settings.mysql_replica_max_lag),
        )

    def readiness_checks(self) -> dict[str, Callable[[], bool | str]]:
        """Each store's check; a replica is ``ok`` or ``degraded``, never ``down``
        (reads go to the primary), so it never fails ``/readyz`` on its own."""
        checks: dict[str, Callable[[], bool | str]] = {
            "mysql": _readiness(self.sql),
            "mongo": _readiness(self.mongo),
            "redis": _readiness(self.redis),
        }
        for replica in self.replicas.replicas:
            checks[replica.name] = functools.partial(self.replicas.status, replica)
        return checks

    def forget_clients(self) -> None:
        for store in (self.sql, *self.replicas.replicas, self.mongo, self.redis):
            store.forget_client()

    def upgrade(self) -> dict[str, list[str]]:
        """Bring the SQL schema and the Mongo indexes up to date (idempotent)."""
        applied = migrate.upgrade(self.sql.target_uri)
        indexes = self.mongo.ensure_indexes()
        return {"sql_migrations": applied, "mongo_indexes": sorted(indexes)}

    def close(self) -> None:
        self.sql.close()
        for replica in self.replicas.replicas:
            replica.close()
        self.mongo.close()
        self.redis.close()
