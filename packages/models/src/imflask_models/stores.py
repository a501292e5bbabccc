"""The three stores of one process, built from the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imflask_core.config import Settings
from imflask_models.mongo.client import MongoStore
from imflask_models.mysql import migrate
from imflask_models.mysql.database import SqlDatabase
from imflask_models.redis.client import RedisStore


@dataclass
class Stores:
    sql: SqlDatabase
    mongo: MongoStore
    redis: RedisStore

    @classmethod
    def from_settings(cls, settings: Settings) -> Stores:
        """Nothing connects here: each client is created on first use in each process."""
        if settings.mongo_uri is None or settings.redis_url is None:
            raise ValueError("resolve the embedded stores before building Stores")
        timeouts = {
            "connect_timeout": settings.store_connect_timeout,
            "read_timeout": settings.store_read_timeout,
        }
        return cls(
            sql=SqlDatabase(settings.mysql_uri, pool_size=settings.sql_pool_size, **timeouts),
            mongo=MongoStore(settings.mongo_uri, settings.mongo_db_name, **timeouts),
            redis=RedisStore(settings.redis_url, settings.redis_key_prefix, **timeouts),
        )

    def readiness_checks(self) -> dict[str, Callable[[], bool]]:
        return {"mysql": self.sql.ping, "mongo": self.mongo.ping, "redis": self.redis.ping}

    def upgrade(self) -> dict[str, list[str]]:
        """Bring the SQL schema and the Mongo indexes up to date (idempotent)."""
        applied = migrate.upgrade(self.sql.target_uri)
        indexes = self.mongo.ensure_indexes()
        return {"sql_migrations": applied, "mongo_indexes": sorted(indexes)}

    def close(self) -> None:
        self.sql.close()
        self.mongo.close()
        self.redis.close()
