"""Connections to the relational store: a pool per process, one borrow per unit of work.

``db.connection()`` borrows a connection in autocommit mode for reads and
single-statement writes; ``db.transaction()`` borrows one and wraps the block
in BEGIN ... COMMIT (ROLLBACK on any exception). Either way the connection
goes back to the pool when the block ends. ``db.run_transaction(work)`` runs
``work(conn)`` as a transaction and runs it again when the database picked it
as a deadlock victim or a lock wait timed out (``TransactionConflict``).

With ``track_writes=True`` (a MySQL primary that has read replicas), a
connection that wrote asks for ``@@last_gtid`` when it is given back, after
its COMMIT, on the same connection, and notes it (``imflask_models.replication``):
every write of every use case is recorded there, none of them types it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from imflask_core.observability import store_call
from imflask_models import replication
from imflask_models.breaker import CircuitBreaker
from imflask_models.errors import DuplicateKey, StoreUnavailable, TransactionConflict
from imflask_models.mysql.dialect import Dialect, SqlTarget, parse_sql_uri
from imflask_models.mysql.schema import Schema, declared

STORE = "mysql"
T = TypeVar("T")
log = logging.getLogger(__name__)
# A conflicted transaction runs again this many times in all, after a random pause of
# up to CONFLICT_BACKOFF * 2**attempt seconds (jitter, so the rivals do not meet again).
CONFLICT_ATTEMPTS = 5
CONFLICT_BACKOFF = 0.01
Params = Mapping[str, Any] | Sequence[Any] | None
# MariaDB: the GTID of this session's last committed transaction that wrote.
SELECT_LAST_GTID = "SELECT @@last_gtid AS gtid"


@dataclass(frozen=True)
class Result:
    rowcount: int
    lastrowid: int | None


class SqlConnection:
    """A borrowed connection; queries are written in MySQL's ``%(name)s`` style."""

    def __init__(self, raw: Any, dialect: Dialect, breaker: CircuitBreaker, schema: Schema):
        self._raw = raw
        self.dialect = dialect
        self._breaker = breaker
        self._schema = schema
        self.wrote = False  # a statement that may write ran on it (execute, execute_many)

    def one(self, query: str, params: Params = None) -> dict[str, Any] | None:
        rows = self.dialect.rows(self._run(query, params), one=True)
        return rows[0] if rows else None

    def all(self, query: str, params: Params = None) -> list[dict[str, Any]]:
        return self.dialect.rows(self._run(query, params))

    def scalar(self, query: str, params: Params = None) -> Any:
        row = self._run(query, params).fetchone()
        if row is None:
            return None
        return next(iter(row.values())) if isinstance(row, dict) else row[0]

    def execute(self, query: str, params: Params = None) -> Result:
        self.wrote = True
        cursor = self._run(query, params)
        return Result(cursor.rowcount, cursor.lastrowid)

    def execute_many(self, query: str, rows: Sequence[Params]) -> int:
        """One statement for many rows (a multi-row INSERT on MySQL)."""
        if not rows:
            return 0
        self.wrote = True
        with self._translated_errors(), store_call(STORE):
            cursor = self._raw.cursor()
            cursor.executemany(self.dialect.sql(query), rows)
            return cursor.rowcount

    def begin(self) -> None:
        """Start a transaction (``db.transaction()`` calls this; see there)."""
        with self._translated_errors(), store_call(STORE):
            self.dialect.begin(self._raw)

    def commit(self) -> None:
        if not self._breaker.allows():
            self._abandon()  # then StoreUnavailable below: not committed, not applied
        with self._translated_errors(), store_call(STORE):
            self._raw.commit()

    def rollback(self) -> None:
        if not self._breaker.allows():
            self._abandon()
            return
        with self._translated_errors(), store_call(STORE):
            self._raw.rollback()

    def _abandon(self) -> None:
        """End the transaction without waiting for a server that is failing: closing the
        connection rolls it back (DBUtils opens a new one on next use)."""
        with contextlib.suppress(Exception):
            self.dialect.abandon(self._raw)

    def refresh_statistics(self, tables: list[str]) -> None:
        """Let the query planner see a bulk load's new row counts."""
        for statement in self.dialect.analyze(tables):
            self.all(statement)

    def _run(self, query: str, params: Params) -> Any:
        query, params = self.dialect.bind(query, params if params is not None else ())
        with self._translated_errors(), store_call(STORE):
            cursor = self._raw.cursor()
            cursor.execute(query, params)
            return cursor

    @contextmanager
    def _translated_errors(self) -> Iterator[None]:
        self._breaker.check()  # once open, even a request already under way fails at once
        try:
            yield
        except self.dialect.driver_errors as error:
            _raise_translated(error, self.dialect, self._breaker, self._schema)


def _raise_translated(
    error: Exception, dialect: Dialect, breaker: CircuitBreaker, schema: Schema
) -> NoReturn:
    """Raise what the driver's ``error`` means to the models (or ``error`` itself)."""
    failure = dialect.failure(error, schema)
    if failure.server_down:
        breaker.failed(error)
    if failure.duplicate is not None:
        raise DuplicateKey(failure.duplicate) from error
    if failure.conflict:
        raise TransactionConflict(str(error)) from error
    if failure.unavailable:
        raise StoreUnavailable(STORE, str(error)) from error
    raise error


def retry_conflicts(attempt: Callable[[], T]) -> T:
    """``attempt()``, run again (up to ``CONFLICT_ATTEMPTS`` in all, after jittered pauses)
    while it fails with ``TransactionConflict``."""
    for number in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return attempt()
        except TransactionConflict as error:
            if number == CONFLICT_ATTEMPTS:
                raise
            pause = random.uniform(0, CONFLICT_BACKOFF * 2**number)  # noqa: S311 - jitter
            log.info("transaction conflict %s, again in %.0fms: %s", number, pause * 1000, error)
            time.sleep(pause)
    raise AssertionError("unreachable")


@dataclass
class _Unit:
    database: SqlDatabase
    conn: SqlConnection
    after_commit: list[Callable[[], None]]


_current_unit: ContextVar[_Unit | None] = ContextVar("imflask_sql_unit", default=None)


class SqlDatabase:
    """The relational store of one process: created lazily, re-created after a fork."""

    def __init__(
        self,
        uri: str,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 2.0,
        pool_size=8,
        name: str = STORE,
        track_writes: bool = False,
        schema: Schema | None = None,
    ):
        self.target_uri = uri
        self.target: SqlTarget = parse_sql_uri(uri)
        self.dialect = self.target.dialect
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._pool_size = pool_size
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._pool: Any = None
        self.name = name
        # Only MariaDB has @@last_gtid, and only replicas need it: SQLite never asks.
        self.track_writes = track_writes and self.dialect.replicates
        # Its unique keys name the field of a duplicate-key error.
        self.schema = schema if schema is not None else declared()
        # Every use of this database in this process goes through it (a replica has its own).
        self.breaker = CircuitBreaker(name, self.ping)

    @contextmanager
    def connection(self) -> Iterator[SqlConnection]:
        """Borrow a connection in autocommit mode; it is returned when the block ends."""
        raw = self._borrow()
        conn = SqlConnection(raw, self.dialect, self.breaker, self.schema)
        try:
            yield conn
            if conn.wrote and self.track_writes:
                self._note_position(conn)
        except BaseException as error:
            # An autocommit write may have committed before a later error: note it too,
            # unless the connection is lost (asking would wait on a failing server).
            if conn.wrote and self.track_writes and not isinstance(error, StoreUnavailable):
                self._note_position(conn)
            raise
        finally:
            self._give_back(raw)

    @staticmethod
    def _note_position(conn: SqlConnection) -> None:
        """After the commit, on the same connection: where the primary was (never raises)."""
        try:
            replication.note(conn.scalar(SELECT_LAST_GTID))
        except Exception as error:  # the write stands; only its replica routing is lost
            log.warning("could not read @@last_gtid after a write: %s", error)

    @contextmanager
    def transaction(self) -> Iterator[SqlConnection]:
        """Borrow a connection and run the block as one transaction."""
        with self.connection() as conn:
            conn.begin()
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(StoreUnavailable):  # a lost connection's work is void
                    conn.rollback()
                raise
            conn.commit()

    def run_transaction(self, work: Callable[[SqlConnection], T]) -> T:
        """``work(conn)`` as one transaction, run again after a deadlock or lock wait timeout.

        ``work`` must be safe to run again from the start: everything it wrote
        was rolled back, so it must not have done anything outside the
        transaction that a second run would repeat. Inside a ``unit_of_work``
        it joins the unit's transaction instead (and the unit's owner retries).
        """
        unit = _current_unit.get()
        if unit is not None and unit.database is self:
            return work(unit.conn)

        def attempt() -> T:
            with self.transaction() as conn:
                return work(conn)

        return retry_conflicts(attempt)

    @contextmanager
    def unit_of_work(self) -> Iterator[SqlConnection]:
        """One transaction around a whole block that calls several use cases or writes.

        Every ``run_transaction`` inside joins it, and every ``after_commit``
        callback waits for its commit (and is dropped on a rollback), so the
        block's writes and what follows them are all or nothing. A conflict
        fails the whole block: wrap it in ``retry_conflicts`` if it may run again.
        """
        if _current_unit.get() is not None:
            raise RuntimeError("units of work do not nest")
        with self.transaction() as conn:
            unit = _Unit(self, conn, [])
            token = _current_unit.set(unit)
            try:
                yield conn
            finally:
                _current_unit.reset(token)
        for callback in unit.after_commit:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current unit of work commits, or now outside one.

        What follows a write (cache invalidation, queuing its jobs) goes through
        here, so that it never runs before the write is visible, nor for a write
        that was rolled back.
        """
        unit = _current_unit.get()
        if unit is None or unit.database is not self:
            callback()
        else:
            unit.after_commit.append(callback)

    def ping(self) -> bool:
        with self.connection() as conn:
            return conn.scalar("SELECT 1 AS ok") == 1

    def forget_client(self) -> None:
        """Drop the client without closing it (after a fork; see ``forget_inherited_clients``)."""
        with self._lock:
            self._pool = None
            self._pid = None

    def close(self) -> None:
        self.breaker.close()
        with self._lock:
            pool, self._pool, self._pid = self._pool, None, None
        if pool is not None:
            pool.close()

    def _pool_of_this_process(self) -> Any:
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:  # a forked child never reuses its parent's sockets
                    self._pool = self._new_pool()
                    self._pid = pid
        return self._pool

    def _new_pool(self) -> Any:
        return self.dialect.pool(
            self.target,
            self.breaker,
            connect_timeout=self._connect_timeout,
            read_timeout=self._read_timeout,
            size=self._pool_size,
        )

    def _borrow(self) -> Any:
        self.breaker.check()
        pool = self._pool_of_this_process()
        try:
            return pool.borrow()
        except self.dialect.driver_errors as error:
            _raise_translated(error, self.dialect, self.breaker, self.schema)

    def _give_back(self, raw: Any) -> None:
        self._pool_of_this_process().give_back(raw)
