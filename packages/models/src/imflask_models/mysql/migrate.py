"""Versioned schema migrations (yoyo) for the relational store, written once for both
dialects: ``migrations/000N.<name>.py`` in ``schema.py``'s vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from yoyo import get_backend, read_migrations

from imflask_models.mysql.dialect import parse_sql_uri, register_sqlite_types
from imflask_models.mysql.schema import MIGRATIONS


@dataclass(frozen=True)
class MigrationStatus:
    applied: list[str]
    pending: list[str]


def upgrade(uri: str, migrations: Path = MIGRATIONS) -> list[str]:
    """Apply every pending migration; return their ids. Safe to run twice or concurrently."""
    backend, found = _open(uri, migrations)
    try:
        with backend.lock():
            pending = backend.to_apply(found)
            backend.apply_migrations(pending)
    finally:
        register_sqlite_types()  # yoyo's transactions leave their own datetime adapter behind
    return [m.id for m in pending]


def status(uri: str, migrations: Path = MIGRATIONS) -> MigrationStatus:
    backend, found = _open(uri, migrations)
    try:
        with backend.lock():
            pending = {m.id for m in backend.to_apply(found)}
    finally:
        register_sqlite_types()
    return MigrationStatus(
        applied=[m.id for m in found if m.id not in pending],
        pending=[m.id for m in found if m.id in pending],
    )


def _open(uri: str, migrations: Path):
    target = parse_sql_uri(uri)
    if target.path:
        Path(target.path).parent.mkdir(parents=True, exist_ok=True)
    return get_backend(target.yoyo_uri), read_migrations(str(migrations))
