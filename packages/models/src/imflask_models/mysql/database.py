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
import queue
import random
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import pymysql
import pymysql.cursors
from dbutils.pooled_db import PooledDB

from imflask_core.observability import store_call
from imflask_models import replication
from imflask_models.breaker import CircuitBreaker
from imflask_models.errors import DuplicateKey, StoreUnavailable, TransactionConflict
from imflask_models.mysql.dialect import SQLITE, Dialect, SqlTarget, parse_sql_uri

STORE = "mysql"
T = TypeVar("T")
log = logging.getLogger(__name__)
# A conflicted transaction runs again this many times in all, after a random pause of
# up to CONFLICT_BACKOFF * 2**attempt seconds (jitter, so the rivals do not meet again).
CONFLICT_ATTEMPTS = 5
CONFLICT_BACKOFF = 0.01
Params = Mapping[str, Any] | Sequence[Any] | None

# MySQL errors that roll the transaction back on a healthy server: a deadlock victim
# (1213) and a lock wait timeout (1205, which pymysql raises as an OperationalError).
_MYSQL_CONFLICTS = {1205, 1213}
_CANT_CONNECT = 2003  # CR_CONN_HOST_ERROR: refused, unreachable, or no handshake in time
# SQLite errors that mean "the store is busy or gone", not "the query is wrong".
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database", "disk I/O error")
# MariaDB: the GTID of this session's last committed transaction that wrote.
SELECT_LAST_GTID = "SELECT @@last_gtid AS gtid"


@dataclass(frozen=True)
class Result:
    rowcount: int
    lastrowid: int | None


class SqlConnection:
    """A borrowed connection; queries are written in MySQL's ``%(name)s`` style."""

    def __init__(self, raw: Any, dialect: Dialect, breaker: CircuitBreaker):
        self._raw = raw
        self.dialect = dialect
        self._breaker = breaker
        self.wrote = False  # a statement that may write ran on it (execute, execute_many)

    def one(self, query: str, params: Params = None) -> dict[str, Any] | None:
        rows = self._rows(self._run(query, params), one=True)
        return rows[0] if rows else None

    def all(self, query: str, params: Params = None) -> list[dict[str, Any]]:
        return self._rows(self._run(query, params))

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
            if self.dialect is SQLITE:
                self._raw.execute("BEGIN IMMEDIATE")  # take the write lock now, not midway
                return
            # DBUtils' begin(): inside it, a lost connection fails the statement
            # instead of replaying it on a new connection outside the transaction.
            try:
                self._raw.begin()
            except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as error:
                if _timed_out(error):
                    raise  # a hung server: one deadline is all a request waits
                # The server closed the pooled connection; DBUtils' rollback()
                # reopens a connection it cannot roll back on. Then try once more.
                with contextlib.suppress(pymysql.err.OperationalError, pymysql.err.InterfaceError):
                    self._raw.rollback()
                self._raw.begin()

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
            if self.dialect is SQLITE:
                self._raw.rollback()  # a local file: nothing to wait for
            else:
                self._raw.dbapi_connection.close()

    def refresh_statistics(self, tables: list[str]) -> None:
        """Let the query planner see a bulk load's new row counts."""
        for statement in self.dialect.analyze(tables):
            self.all(statement)

    def _rows(self, cursor: Any, one: bool = False) -> list[dict[str, Any]]:
        """Rows as dicts: pymysql's DictCursor makes them; sqlite3 rows are zipped with
        the column names (faster than its Row objects)."""
        rows = [cursor.fetchone()] if one else cursor.fetchall()
        if self.dialect is not SQLITE:
            return [row for row in rows if row is not None]
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in rows if row is not None]

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
        except (pymysql.err.IntegrityError, sqlite3.IntegrityError) as error:
            field = self.dialect.duplicate_field(error)
            if field is None:
                raise
            raise DuplicateKey(field) from error
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as error:
            if error.args and error.args[0] in _MYSQL_CONFLICTS:
                raise TransactionConflict(str(error)) from error
            if _server_down(error):
                self._breaker.failed(error)
            raise StoreUnavailable(STORE, str(error)) from error
        except sqlite3.OperationalError as error:
            if any(text in str(error) for text in _SQLITE_UNAVAILABLE):
                self._breaker.failed(error)
                raise StoreUnavailable(STORE, str(error)) from error
            raise


def _server_down(error: BaseException) -> bool:
    """A deadline passed, or no connection could be made: what opens the breaker.

    A connection lost without a deadline (the server restarted, or closed this
    one connection) fails only its own call; the next borrow reconnects, and
    that connect fails at once if the server is really down.
    """
    return _timed_out(error) or bool(error.args and error.args[0] == _CANT_CONNECT)


def _timed_out(error: BaseException | None) -> bool:
    """Did this error (or one it was raised in handling) come from a socket deadline?

    pymysql raises its OperationalError while handling the socket's TimeoutError.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, TimeoutError):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


class _Connector:
    """pymysql as DBUtils' creator, except that it never reconnects for a call that
    just waited out a deadline, nor while the breaker is open.

    DBUtils reopens a connection whenever a statement, commit or rollback fails
    on it, and runs the statement once more: right for a connection the server
    closed (a restart), but against a hung server it doubles the wait. DBUtils
    calls ``connect`` while handling the original error, so ``sys.exception()``
    says which case this is.
    """

    dbapi = pymysql
    threadsafety = pymysql.threadsafety

    def __init__(self, breaker: CircuitBreaker):
        self._breaker = breaker

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        handling = sys.exception()
        if isinstance(handling, pymysql.err.Error) and _timed_out(handling):
            raise pymysql.err.OperationalError(2013, "not reconnecting to a server that timed out")
        if not self._breaker.allows():
            raise pymysql.err.OperationalError(2003, "not connecting while the breaker is open")
        return pymysql.connect(*args, **kwargs)


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
        self.track_writes = track_writes and self.dialect is not SQLITE
        # Every use of this database in this process goes through it (a replica has its own).
        self.breaker = CircuitBreaker(name, self.ping)

    @contextmanager
    def connection(self) -> Iterator[SqlConnection]:
        """Borrow a connection in autocommit mode; it is returned when the block ends."""
        raw = self._borrow()
        conn = SqlConnection(raw, self.dialect, self.breaker)
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
        if pool is None:
            return
        if self.dialect is SQLITE:
            while True:
                try:
                    pool.get_nowait().close()
                except queue.Empty:
                    break
        else:
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
        if self.dialect is SQLITE:
            return queue.SimpleQueue()
        t = self.target
        return PooledDB(
            creator=_Connector(self.breaker),
            mincached=0,  # connect lazily: starting the app never waits for MySQL
            maxcached=self._pool_size,
            maxconnections=0,  # never block waiting for a free connection
            blocking=False,
            # No round trip on borrow or return. A connection the server closed is
            # reopened by DBUtils when a statement outside a transaction fails on
            # it, and by ``SqlConnection.begin`` for a transaction; only a
            # transaction (``begin()``) is rolled back when it comes back.
            ping=0,
            reset=False,
            host=t.host,
            port=t.port,
            user=t.user,
            password=t.password,
            database=t.database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=self._connect_timeout,
            read_timeout=self._read_timeout,
            write_timeout=self._read_timeout,
            cursorclass=pymysql.cursors.DictCursor,
        )

    def _borrow(self) -> Any:
        self.breaker.check()
        pool = self._pool_of_this_process()
        if self.dialect is SQLITE:
            try:
                return pool.get_nowait()
            except queue.Empty:
                return self._sqlite_connect()
        try:
            return pool.connection()
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as error:
            if _server_down(error):
                self.breaker.failed(error)
            raise StoreUnavailable(STORE, str(error)) from error

    def _give_back(self, raw: Any) -> None:
        if self.dialect is SQLITE:
            if raw.in_transaction:
                raw.rollback()
            self._pool_of_this_process().put(raw)
        else:
            raw.close()  # PooledDB's close() returns the connection to the pool

    def _sqlite_connect(self) -> sqlite3.Connection:
        try:
            raw = sqlite3.connect(
                self.target.path,
                timeout=self._read_timeout,
                isolation_level=None,  # autocommit; transaction() issues BEGIN itself
                detect_types=sqlite3.PARSE_DECLTYPES,
                check_same_thread=False,  # pooled: one thread at a time, not always the same
            )
        except sqlite3.OperationalError as error:
            self.breaker.failed(error)
            raise StoreUnavailable(STORE, str(error)) from error
        raw.execute("PRAGMA foreign_keys = ON")
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute("PRAGMA synchronous = NORMAL")
        return raw
