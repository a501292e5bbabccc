"""Every difference between MySQL (pymysql) and SQLite (sqlite3) lives here.

Queries are written once, in MySQL's ``%(name)s`` style, and the schema once, in
``schema.py``'s vocabulary; each dialect renders them, opens and pools its
connections, begins transactions and says what a driver error means. The other
modules hold a ``Dialect`` and never ask which one it is.
"""

from __future__ import annotations

import contextlib
import queue
import re
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import pymysql
import pymysql.cursors
from dbutils.pooled_db import PooledDB

if TYPE_CHECKING:
    from imflask_models.breaker import CircuitBreaker
    from imflask_models.mysql.schema import Column, Index, Schema, Table

_NAMED = re.compile(r"%\((\w+)\)s")
# MariaDB names the key ('uq_users_email'), MySQL 8 with its table ('users.uq_users_email').
_DUPLICATE_MYSQL = re.compile(r"for key '(?:\w+\.)?(\w+)'")
# SQLite names the columns: "UNIQUE constraint failed: users.email" (or "t.a, t.b").
_DUPLICATE_SQLITE = re.compile(r"UNIQUE constraint failed: ((?:\w+\.\w+(?:, )?)+)$")
# MySQL errors that roll the transaction back on a healthy server: a deadlock victim
# (1213) and a lock wait timeout (1205, which pymysql raises as an OperationalError).
_MYSQL_CONFLICTS = {1205, 1213}
_MYSQL_DUPLICATE = 1062
_CANT_CONNECT = 2003  # CR_CONN_HOST_ERROR: refused, unreachable, or no handshake in time
# SQLite errors that mean "the store is busy or gone", not "the query is wrong".
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database", "disk I/O error")
_MYSQL_TABLE_OPTIONS = "ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin"


@dataclass(frozen=True)
class Failure:
    """What a driver error means, in the models' terms (all false: the query is wrong)."""

    duplicate: str | None = None  # the field a unique key refused
    conflict: bool = False  # a deadlock victim or a lock wait timeout: run it again
    unavailable: bool = False  # the store is busy, gone or hung
    server_down: bool = False  # ... and the breaker opens


class Dialect:
    """What both dialects offer; ``MYSQL`` and ``SQLITE`` below are the two answers."""

    name: str
    replicates: bool  # has replicas to route reads to, and GTIDs to track writes by
    driver_errors: tuple[type[Exception], ...]  # what ``failure`` explains

    def sql(self, query: str) -> str:
        """The query in this dialect's placeholder style and keywords."""
        return query

    def bind(self, query: str, params: Any) -> tuple[str, Any]:
        """The query and parameters ready for the driver (a list after ``IN`` included)."""
        return query, params

    def analyze(self, tables: list[str]) -> list[str]:
        """Statements that refresh the planner's statistics (after a bulk load)."""
        raise NotImplementedError

    def create_table(self, table: Table) -> list[str]:
        """The DDL that creates ``table`` with its keys and indexes."""
        raise NotImplementedError

    def drop_table(self, table: Table) -> str:
        return f"DROP TABLE {table.name}"

    def add_column(self, table: str, column: Column) -> str:
        return f"ALTER TABLE {table} ADD COLUMN {self.column_ddl(column)}"

    def drop_column(self, table: str, column: Column) -> str:
        return f"ALTER TABLE {table} DROP COLUMN {column.name}"

    def column_ddl(self, column: Column) -> str:
        """A column as ``CREATE TABLE`` and ``ADD COLUMN`` declare it."""
        raise NotImplementedError

    def failure(self, error: Exception, schema: Schema) -> Failure:
        """What ``error`` (one of ``driver_errors``) means."""
        raise NotImplementedError

    def pool(self, target: SqlTarget, breaker: CircuitBreaker, **options: Any) -> Any:
        """A pool of connections to ``target``: ``borrow()``, ``give_back(raw)``, ``close()``.

        ``options``: ``connect_timeout``, ``read_timeout`` (seconds) and ``size``.
        """
        raise NotImplementedError

    def begin(self, raw: Any) -> None:
        raise NotImplementedError

    def abandon(self, raw: Any) -> None:
        """End a transaction without waiting for a server that is failing."""
        raise NotImplementedError

    def rows(self, cursor: Any, one: bool = False) -> list[dict[str, Any]]:
        """The cursor's rows (or first row) as dicts."""
        raise NotImplementedError

    def yoyo_uri(self, target: SqlTarget) -> str:
        raise NotImplementedError


def _column_ddl(column: Column, type_name: str) -> str:
    ddl = f"{column.name} {type_name} {'NULL' if column.nullable else 'NOT NULL'}"
    if column.default is not None:
        ddl += f" DEFAULT {_literal(column.default)}"
    return ddl


def _literal(value: int | str) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def _unique_ddl(key: Index) -> str:
    return f"CONSTRAINT {key.name} UNIQUE ({', '.join(key.columns)})"


def _foreign_keys_ddl(table: Table) -> list[str]:
    return [
        f"CONSTRAINT {fk.name} FOREIGN KEY ({fk.column}) REFERENCES {fk.references} (id) "
        f"ON DELETE {fk.on_delete}"
        for fk in table.foreign_keys
    ]


def _create(name: str, lines: list[str], options: str) -> str:
    body = ",\n    ".join(lines)
    return f"CREATE TABLE {name} (\n    {body}\n){options}"


class _MySQL(Dialect):
    name = "mysql"
    replicates = True
    driver_errors = (pymysql.err.IntegrityError, pymysql.err.OperationalError,
                     pymysql.err.InterfaceError)  # fmt: skip
    _TYPES = {  # noqa: RUF012 - a constant table
        "reference": "BIGINT UNSIGNED",
        "smallint": "SMALLINT",
        "text": "TEXT",
        "long_text": "MEDIUMTEXT",
        "timestamp": "DATETIME(3)",
        "string": "VARCHAR({length})",
        "char": "CHAR({length})",
    }

    def analyze(self, tables: list[str]) -> list[str]:
        return [f"ANALYZE TABLE {', '.join(tables)}"]

    def column_ddl(self, column: Column) -> str:
        ddl = _column_ddl(column, self._TYPES[column.type.kind].format(length=column.type.length))
        return ddl + (" AUTO_INCREMENT" if column.auto_increment else "")

    def create_table(self, table: Table) -> list[str]:
        lines = [self.column_ddl(c) for c in table.columns]
        lines.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
        lines += [_unique_ddl(key) for key in table.unique]
        lines += [f"KEY {ix.name} ({', '.join(ix.columns)})" for ix in table.indexes]
        lines += _foreign_keys_ddl(table)
        return [_create(table.name, lines, " " + _MYSQL_TABLE_OPTIONS)]

    def failure(self, error: Exception, schema: Schema) -> Failure:
        code = error.args[0] if error.args else None
        if isinstance(error, pymysql.err.IntegrityError):
            if code != _MYSQL_DUPLICATE:
                return Failure()
            match = _DUPLICATE_MYSQL.search(str(error.args[1]))
            key = schema.unique_key(match.group(1)) if match else None
            return Failure(duplicate=key.field if key else "key")  # "key": the primary key
        if code in _MYSQL_CONFLICTS:
            return Failure(conflict=True)
        return Failure(unavailable=True, server_down=_server_down(error))

    def pool(self, target: SqlTarget, breaker: CircuitBreaker, **options: Any) -> Any:
        return _MySQLPool(target, breaker, **options)

    def begin(self, raw: Any) -> None:
        # DBUtils' begin(): inside it, a lost connection fails the statement
        # instead of replaying it on a new connection outside the transaction.
        try:
            raw.begin()
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as error:
            if _timed_out(error):
                raise  # a hung server: one deadline is all a request waits
            # The server closed the pooled connection; DBUtils' rollback()
            # reopens a connection it cannot roll back on. Then try once more.
            with contextlib.suppress(pymysql.err.OperationalError, pymysql.err.InterfaceError):
                raw.rollback()
            raw.begin()

    def abandon(self, raw: Any) -> None:
        # Closing the connection rolls the transaction back (DBUtils opens a new one).
        raw.dbapi_connection.close()

    def rows(self, cursor: Any, one: bool = False) -> list[dict[str, Any]]:
        rows = [cursor.fetchone()] if one else cursor.fetchall()  # DictCursor: dicts already
        return [row for row in rows if row is not None]

    def yoyo_uri(self, target: SqlTarget) -> str:
        auth = quote(target.user, safe="")
        if target.password:
            auth += ":" + quote(target.password, safe="")
        return f"mysql://{auth}@{target.host}:{target.port}/{target.database}"


class _SQLite(Dialect):
    name = "sqlite"
    replicates = False  # a stand-in replica is the primary's own file
    driver_errors = (sqlite3.IntegrityError, sqlite3.OperationalError)
    _TYPES = {  # noqa: RUF012 - a constant table
        "reference": "INTEGER",
        "smallint": "INTEGER",
        "text": "TEXT",
        "long_text": "TEXT",
        "timestamp": "DATETIME",
        "string": "TEXT",
        "char": "TEXT",
    }

    def sql(self, query: str) -> str:
        return _to_sqlite(query)

    def bind(self, query: str, params: Any) -> tuple[str, Any]:
        """pymysql expands a list or tuple after ``IN`` itself; for sqlite3 it becomes
        one placeholder per item."""
        query = _to_sqlite(query)
        if not isinstance(params, dict) or not any(
            isinstance(v, list | tuple) for v in params.values()
        ):
            return query, params
        bound = {}
        for name, value in params.items():
            if isinstance(value, list | tuple):
                query = _expand(query, name, len(value))
                bound.update((f"{name}__{i}", item) for i, item in enumerate(value))
            else:
                bound[name] = value
        return query, bound

    def analyze(self, tables: list[str]) -> list[str]:
        return ["ANALYZE"]

    def column_ddl(self, column: Column) -> str:
        if column.auto_increment:
            return f"{column.name} INTEGER PRIMARY KEY AUTOINCREMENT"
        return _column_ddl(column, self._TYPES[column.type.kind])

    def create_table(self, table: Table) -> list[str]:
        lines = [self.column_ddl(c) for c in table.columns]
        if not table.auto_id:
            lines.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
        lines += [_unique_ddl(key) for key in table.unique]
        lines += _foreign_keys_ddl(table)
        # A table keyed by its columns alone needs no rowid: the key is the row's place.
        options = "" if table.auto_id else " WITHOUT ROWID"
        indexes = [
            f"CREATE INDEX {ix.name} ON {table.name} ({', '.join(ix.columns)})"
            for ix in table.indexes
        ]
        return [_create(table.name, lines, options), *indexes]

    def failure(self, error: Exception, schema: Schema) -> Failure:
        if isinstance(error, sqlite3.IntegrityError):
            match = _DUPLICATE_SQLITE.search(str(error))
            if not match:
                return Failure()  # NOT NULL, CHECK, a foreign key: not a duplicate
            names = [name.split(".") for name in match.group(1).split(", ")]
            key = schema.unique_on(names[0][0], tuple(column for _, column in names))
            return Failure(duplicate=key.field if key else "key")  # "key": the primary key
        if any(text in str(error) for text in _SQLITE_UNAVAILABLE):
            return Failure(unavailable=True, server_down=True)
        return Failure()

    def pool(self, target: SqlTarget, breaker: CircuitBreaker, **options: Any) -> Any:
        return _SQLitePool(target.path, read_timeout=options["read_timeout"])

    def begin(self, raw: Any) -> None:
        raw.execute("BEGIN IMMEDIATE")  # take the write lock now, not midway

    def abandon(self, raw: Any) -> None:
        raw.rollback()  # a local file: nothing to wait for

    def rows(self, cursor: Any, one: bool = False) -> list[dict[str, Any]]:
        """sqlite3 rows zipped with the column names (faster than its Row objects)."""
        rows = [cursor.fetchone()] if one else cursor.fetchall()
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in rows if row is not None]

    def yoyo_uri(self, target: SqlTarget) -> str:
        return f"sqlite:///{target.path}"


MYSQL = _MySQL()
SQLITE = _SQLite()


def dialect_of(connection: Any) -> Dialect:
    """The dialect of a raw driver connection (as yoyo hands one to a migration step)."""
    return SQLITE if isinstance(connection, sqlite3.Connection) else MYSQL


@lru_cache(maxsize=1024)
def _expand(query: str, name: str, count: int) -> str:
    """``IN :ids`` → ``IN (:ids__0, :ids__1, …)`` for a list of ``count`` items."""
    placeholders = ", ".join(f":{name}__{i}" for i in range(count))
    return re.sub(rf":{name}\b", f"({placeholders})", query)


@lru_cache(maxsize=512)
def _to_sqlite(query: str) -> str:
    query = _NAMED.sub(r":\1", query).replace("%s", "?").replace("%%", "%")
    return query.replace("INSERT IGNORE", "INSERT OR IGNORE")


class _SQLitePool:
    """Idle sqlite3 connections to one file, each reused by one thread at a time."""

    def __init__(self, path: str, *, read_timeout: float):
        self._path = path
        self._timeout = read_timeout
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()

    def borrow(self) -> sqlite3.Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        raw = sqlite3.connect(
            self._path,
            timeout=self._timeout,
            isolation_level=None,  # autocommit; transaction() issues BEGIN itself
            detect_types=sqlite3.PARSE_DECLTYPES,
            check_same_thread=False,  # pooled: one thread at a time, not always the same
        )
        raw.execute("PRAGMA foreign_keys = ON")
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute("PRAGMA synchronous = NORMAL")
        return raw

    def give_back(self, raw: sqlite3.Connection) -> None:
        if raw.in_transaction:
            raw.rollback()
        self._idle.put(raw)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break


class _MySQLPool:
    """DBUtils' PooledDB over pymysql, connecting lazily and never blocking a borrower."""

    def __init__(
        self,
        target: SqlTarget,
        breaker: CircuitBreaker,
        *,
        connect_timeout: float,
        read_timeout: float,
        size: int,
    ):
        self._pooled = PooledDB(
            creator=_Connector(breaker),
            mincached=0,  # connect lazily: starting the app never waits for MySQL
            maxcached=size,
            maxconnections=0,  # never block waiting for a free connection
            blocking=False,
            # No round trip on borrow or return. A connection the server closed is
            # reopened by DBUtils when a statement outside a transaction fails on
            # it, and by ``begin`` for a transaction; only a transaction
            # (``begin()``) is rolled back when it comes back.
            ping=0,
            reset=False,
            host=target.host,
            port=target.port,
            user=target.user,
            password=target.password,
            database=target.database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            write_timeout=read_timeout,
            cursorclass=pymysql.cursors.DictCursor,
        )

    def borrow(self) -> Any:
        return self._pooled.connection()

    def give_back(self, raw: Any) -> None:
        raw.close()  # PooledDB's close() returns the connection to the pool

    def close(self) -> None:
        self._pooled.close()


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


@dataclass(frozen=True)
class SqlTarget:
    """Where a SQL URI points: a MySQL server and database, or a SQLite file."""

    dialect: Dialect
    host: str = ""
    port: int = 3306
    user: str = ""
    password: str = ""
    database: str = ""
    path: str = ""  # SQLite file

    @property
    def yoyo_uri(self) -> str:
        return self.dialect.yoyo_uri(self)


def parse_sql_uri(uri: str) -> SqlTarget:
    """``mysql://user:pw@host:port/db`` (also ``mysql+pymysql://``) or ``sqlite:///path``."""
    if uri.startswith("sqlite:///"):
        return SqlTarget(SQLITE, path=uri[len("sqlite:///") :])
    parts = urlsplit(uri)
    if parts.scheme not in {"mysql", "mysql+pymysql"} or not parts.path.strip("/"):
        raise ValueError(
            "FLASK_MYSQL_URI must look like mysql://user:password@host:3306/database "
            "or sqlite:///path/to/file.sqlite3"
        )
    return SqlTarget(
        MYSQL,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=parts.path.strip("/"),
    )


def utcnow() -> datetime:
    """Now, in UTC, at the millisecond precision both dialects store."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def register_sqlite_types() -> None:
    """SQLite keeps DATETIME columns as ISO text: one format for every process, so that
    text comparisons order them. sqlite3's adapters are global, and yoyo registers its
    own (``T`` as separator) when it opens a database: ``migrate`` calls this after it."""
    sqlite3.register_adapter(datetime, lambda value: value.isoformat(" ", "milliseconds"))
    sqlite3.register_converter("DATETIME", lambda raw: datetime.fromisoformat(raw.decode()))


register_sqlite_types()
