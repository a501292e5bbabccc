"""Look-alike usernames and emails: one normalized key each, unique (``user_keys.py``).

Every existing user gets their keys, oldest first. Where two existing users already
look alike, the older one holds the key and the younger one gets NULL for it: both
keep their names (and can sign in), nobody new can take a third look-alike, and the
younger one claims a key again by changing to a name (or an email) that is free.
"""

from typing import Any

from yoyo import step

from imflask_models.mysql.dialect import dialect_of
from imflask_models.mysql.schema import (
    REFERENCE,
    char,
    column,
    foreign_key,
    migration,
    primary_key,
    table,
    unique,
)
from imflask_models.mysql.user_keys import backfill_keys


class _Migrating:
    """yoyo's connection with the two calls ``backfill_keys`` makes, rows as dicts."""

    def __init__(self, raw: Any):
        self._raw = raw
        self._dialect = dialect_of(raw)

    def all(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        query, params = self._dialect.bind(query, params)
        cursor = self._raw.cursor()
        try:
            cursor.execute(query, params)
            names = [described[0] for described in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def execute_many(self, query: str, rows: Any) -> int:
        cursor = self._raw.cursor()
        try:
            cursor.executemany(self._dialect.sql(query), rows)
            return cursor.rowcount
        finally:
            cursor.close()


def _backfill(raw: Any) -> None:
    backfill_keys(_Migrating(raw))


migration(
    table(
        "user_keys",
        column("user_id", REFERENCE),
        column("username", char(64), null=True),  # SHA-256 hex; NULL claims nothing
        column("email", char(64), null=True),
        primary_key("user_id"),
        unique("uq_user_keys_username", "username"),
        unique("uq_user_keys_email", "email"),
        foreign_key("fk_user_keys_user", "user_id", "users"),
    ),
)
step(_backfill)  # rolled back with the table: dropping it drops the keys
