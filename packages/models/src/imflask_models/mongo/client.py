"""The MongoDB client of one process and the indexes each collection declares."""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

from pymongo import IndexModel, MongoClient
from pymongo.database import Database
from pymongo.errors import ConnectionFailure

from imflask_models.breaker import CircuitBreaker
from imflask_models.errors import unavailable_on

# A database of plain-dict documents (pymongo's default document class).
MongoDb = Database[dict[str, Any]]

STORE = "mongo"

# collection name -> its indexes; filled by declare_indexes() beside each collection's code.
_INDEXES: dict[str, list[IndexModel]] = {}


def declare_indexes(collection: str, indexes: list[IndexModel]) -> None:
    """Declare a collection's indexes; ``flask db upgrade`` creates them."""
    _INDEXES[collection] = indexes


def declared_indexes() -> dict[str, list[IndexModel]]:
    return dict(_INDEXES)


# The breaker of each client a MongoStore made, by id (with a weak reference to tell a
# reused id apart): collection functions get a Database, whose .client leads here.
_BREAKERS: dict[int, tuple[weakref.ref[MongoClient], CircuitBreaker]] = {}


def _breaker_of(target: Any) -> CircuitBreaker:
    """The breaker of a MongoStore, or of the store a Database came from."""
    if isinstance(target, MongoStore):
        return target.breaker
    client = target.client
    ref, breaker = _BREAKERS.get(id(client), (None, None))
    if breaker is None or ref is None or ref() is not client:
        raise LookupError(f"{target!r} does not come from a MongoStore")
    return breaker


# Connection, timeout and server-selection errors become StoreUnavailable("mongo") and
# open the breaker.
unavailable_on_failure = unavailable_on(STORE, ConnectionFailure, breaker_of=_breaker_of)


class MongoStore:
    """One ``MongoClient`` per process, created on first use (after gunicorn forks)."""

    def __init__(self, uri: str, db_name: str, *, connect_timeout=2.0, read_timeout=2.0):
        self.uri = uri
        self.db_name = db_name
        self._options = {
            "serverSelectionTimeoutMS": int(connect_timeout * 1000),
            "connectTimeoutMS": int(connect_timeout * 1000),
            "socketTimeoutMS": int(read_timeout * 1000),
            "tz_aware": True,
            "appname": "imflask",
        }
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._client: MongoClient | None = None
        # Every use of this Mongo in this process goes through it.
        self.breaker = CircuitBreaker(STORE, self._probe)

    @property
    def client(self) -> MongoClient:
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    client = MongoClient(self.uri, connect=False, **self._options)
                    key = id(client)
                    _BREAKERS[key] = (
                        weakref.ref(client, lambda _, key=key: _BREAKERS.pop(key, None)),
                        self.breaker,
                    )
                    self._client, self._pid = client, pid
        assert self._client is not None
        return self._client

    @property
    def db(self) -> MongoDb:
        return self.client[self.db_name]

    def _probe(self) -> None:
        self.client.admin.command("ping")

    @unavailable_on_failure
    def ping(self) -> bool:
        return self.client.admin.command("ping").get("ok") == 1

    @unavailable_on_failure
    def ensure_indexes(self) -> dict[str, list[str]]:
        """Create every declared index; existing ones are left as they are."""
        self.client.admin.command("ping")  # fail loudly even with nothing declared yet
        created = {}
        for collection, indexes in declared_indexes().items():
            created[collection] = self.db[collection].create_indexes(indexes)
        return created

    @unavailable_on_failure
    def drop_database(self) -> None:
        self.client.drop_database(self.db_name)

    def forget_client(self) -> None:
        """Drop the client without closing it (after a fork; see ``forget_inherited_clients``)."""
        with self._lock:
            self._client = None
            self._pid = None

    def close(self) -> None:
        self.breaker.close()
        with self._lock:
            client, self._client, self._pid = self._client, None, None
        if client is not None:
            client.close()
