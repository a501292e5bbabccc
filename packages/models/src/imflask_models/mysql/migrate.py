"""Versioned schema migrations (yoyo) for the relational store, one folder per dialect."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from yoyo import get_backend, read_migrations

from imflask_models.mysql.dialect import parse_sql_uri, register_sqlite_types


@dataclass(frozen=True)
class MigrationStatus:
    applied: list[str]
    pending: list[str]


def upgrade(uri: str) -> list[str]:
    """Apply every pending migration; return their ids. Safe to run twice or concurrently."""
    backend, migrations = _open(uri)
    try:
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
    finally:
        register_sqlite_types()  # yoyo's transactions leave their own datetime adapter behind
    return [m.id for m in pending]


def status(uri: str) -> MigrationStatus:
    backend, migrations = _open(uri)
    try:
        with backend.lock():
            pending = {m.id for m in backend.to_apply(migrations)}
    finally:
        register_sqlite_types()
    return MigrationStatus(
        applied=[m.id for m in migrations if m.id not in pending],
        pending=[m.id for m in migrations if m.id in pending],
    )


def _open(uri: str):
    target = parse_sql_uri(uri)
    if target.path:
        Path(target.path).parent.mkdir(parents=True, exist_ok=True)
    return get_backend(target.yoyo_uri), read_migrations(str(target.dialect.migrations))
