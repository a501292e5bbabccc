"""Every difference between MySQL (pymysql) and SQLite (sqlite3) lives here.

Queries are written once, in MySQL's ``%(name)s`` style; the SQLite dialect
rewrites their placeholders and the few keywords that differ. Repository
modules never branch on the dialect.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pymysql

_NAMED = re.compile(r"%\((\w+)\)s")
_DUPLICATE_MYSQL = re.compile(r"for key '(?:\w+\.)?uq_[a-z]+_(\w+)'")
_DUPLICATE_SQLITE = re.compile(r"UNIQUE constraint failed: \w+\.(\w+)")


@dataclass(frozen=True)
class Dialect:
    name: str  # "mysql" or "sqlite"

    @property
    def migrations(self) -> Path:
        return Path(__file__).parent / "migrations" / self.name

    def sql(self, query: str) -> str:
        """The query in this dialect's placeholder style and keywords."""
        return _to_sqlite(query) if self.name == "sqlite" else query

    def bind(self, query: str, params: Any) -> tuple[str, Any]:
        """The query and parameters ready for the driver.

        A list or tuple parameter stands for ``(a, b, c)`` after ``IN``: pymysql
        expands it itself; for sqlite3 it becomes one placeholder per item.
        """
        if self.name == "mysql":
            return query, params
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
        """Statements that refresh the planner's statistics (after a bulk load)."""
        if self.name == "sqlite":
            return ["ANALYZE"]
        return [f"ANALYZE TABLE {', '.join(tables)}"]

    def duplicate_field(self, error: Exception) -> str | None:
        """The column a unique-index violation names, or None if it is another error."""
        if self.name == "mysql":
            if isinstance(error, pymysql.err.IntegrityError) and error.args[0] == 1062:
                match = _DUPLICATE_MYSQL.search(str(error.args[1]))
                return match.group(1) if match else "key"
            return None
        if isinstance(error, sqlite3.IntegrityError):
            match = _DUPLICATE_SQLITE.search(str(error))
            return match.group(1) if match else None
        return None


MYSQL = Dialect("mysql")
SQLITE = Dialect("sqlite")


@lru_cache(maxsize=1024)
def _expand(query: str, name: str, count: int) -> str:
    """``IN :ids`` → ``IN (:ids__0, :ids__1, …)`` for a list of ``count`` items."""
    placeholders = ", ".join(f":{name}__{i}" for i in range(count))
    return re.sub(rf":{name}\b", f"({placeholders})", query)


@lru_cache(maxsize=512)
def _to_sqlite(query: str) -> str:
    query = _NAMED.sub(r":\1", query).replace("%s", "?").replace("%%", "%")
    return query.replace("INSERT IGNORE", "INSERT OR IGNORE")


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
        if self.dialect is SQLITE:
            return f"sqlite:///{self.path}"
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return f"mysql://{auth}@{self.host}:{self.port}/{self.database}"


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
