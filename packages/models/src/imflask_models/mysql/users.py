"""The ``users`` table: accounts, credentials and profile fields.

A user's name and email are unique on their normalized keys too (``user_keys``):
``insert_user`` and ``update_user`` write the keys with the row, so run them in a
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from imflask_models.mysql import user_keys
from imflask_models.mysql.database import SqlConnection
from imflask_models.mysql.dialect import utcnow


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    email: str
    password_hash: str
    bio: str | None
    image: str | None
    created_at: datetime
    updated_at: datetime


INSERT_USER = """
INSERT INTO users (username, email, password_hash, bio, image, created_at, updated_at)
VALUES (%(username)s, %(email)s, %(password_hash)s, NULL, NULL, %(now)s, %(now)s)
"""
SELECT_USER_BY_ID = """
SELECT id, username, email, password_hash, bio, image, created_at, updated_at
FROM users WHERE id = %(id)s
"""
SELECT_USER_BY_EMAIL = """
SELECT id, username, email, password_hash, bio, image, created_at, updated_at
FROM users WHERE email = %(email)s
"""
SELECT_USER_BY_USERNAME = """
SELECT id, username, email, password_hash, bio, image, created_at, updated_at
FROM users WHERE username = %(username)s
"""
# One statement for any subset of columns: set_<column> says which ones change.
UPDATE_USER = """
UPDATE users SET
    username      = CASE WHEN %(set_username)s      THEN %(username)s      ELSE username END,
    email         = CASE WHEN %(set_email)s         THEN %(email)s         ELSE email END,
    password_hash = CASE WHEN %(set_password_hash)s THEN %(password_hash)s ELSE password_hash END,
    bio           = CASE WHEN %(set_bio)s           THEN %(bio)s           ELSE bio END,
    image         = CASE WHEN %(set_image)s         THEN %(image)s         ELSE image END,
    updated_at    = %(now)s
WHERE id = %(id)s
"""
UPDATABLE_COLUMNS = ("username", "email", "password_hash", "bio", "image")


def insert_user(conn: SqlConnection, *, username: str, email: str, password_hash: str) -> int:
    """Insert a user and their keys and return the id; raises ``DuplicateKey`` on a
    username or email that is taken, or looks like one that is (``user_keys``)."""
    result = conn.execute(
        INSERT_USER,
        {"username": username, "email": email, "password_hash": password_hash, "now": utcnow()},
    )
    assert result.lastrowid is not None
    user_keys.insert_keys(conn, user_id=result.lastrowid, username=username, email=email)
    return result.lastrowid


def user_by_id(conn: SqlConnection, user_id: int) -> UserRow | None:
    return _row(conn.one(SELECT_USER_BY_ID, {"id": user_id}))


def user_by_email(conn: SqlConnection, email: str) -> UserRow | None:
    return _row(conn.one(SELECT_USER_BY_EMAIL, {"email": email}))


def user_by_username(conn: SqlConnection, username: str) -> UserRow | None:
    return _row(conn.one(SELECT_USER_BY_USERNAME, {"username": username}))


def update_user(conn: SqlConnection, user_id: int, changes: dict[str, str | None]) -> None:
    """Set the given columns (a subset of ``UPDATABLE_COLUMNS``) in one statement.

    A username or email that changes claims its new key (``DuplicateKey`` if another
    user holds it); one sent unchanged keeps the key it has, even none.
    """
    unknown = set(changes) - set(UPDATABLE_COLUMNS)
    if unknown:
        raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
    params: dict[str, object] = {"id": user_id, "now": utcnow()}
    for column in UPDATABLE_COLUMNS:
        params[f"set_{column}"] = column in changes
        params[column] = changes.get(column)
    renamed = _changed_names(conn, user_id, changes)
    conn.execute(UPDATE_USER, params)
    if renamed:
        user_keys.update_keys(
            conn, user_id=user_id, username=renamed.get("username"), email=renamed.get("email")
        )


def _changed_names(
    conn: SqlConnection, user_id: int, changes: dict[str, str | None]
) -> dict[str, str | None]:
    """The username and email among ``changes`` that differ from the stored ones."""
    if "username" not in changes and "email" not in changes:
        return {}
    current = user_by_id(conn, user_id)
    if current is None:
        return {}
    stored = {"username": current.username, "email": current.email}
    return {
        column: changes[column]
        for column in stored
        if changes.get(column) is not None and changes[column] != stored[column]
    }


def _row(row: dict | None) -> UserRow | None:
    return None if row is None else UserRow(**row)


SELECT_PUBLIC_PROFILES = "SELECT id, username, bio, image FROM users WHERE id IN %(ids)s"


def public_profiles_by_ids(conn: SqlConnection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """``{id: {"id", "username", "bio", "image"}}``: what anyone may see of these users."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    return {row["id"]: row for row in conn.all(SELECT_PUBLIC_PROFILES, {"ids": ids})}


INSERT_USER_SEEDED = """
INSERT IGNORE INTO users (username, email, password_hash, bio, image, created_at, updated_at)
VALUES (%(username)s, %(email)s, %(password_hash)s, %(bio)s, %(image)s, %(now)s, %(now)s)
"""
SELECT_IDS_BY_USERNAMES = "SELECT id, username FROM users WHERE username IN %(usernames)s"
INSERT_KEYS_SEEDED = """
INSERT IGNORE INTO user_keys (user_id, username, email)
VALUES (%(user_id)s, %(username)s, %(email)s)
"""


def insert_users(conn: SqlConnection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Bulk insert (seeding): rows of username, email, password_hash, bio, image, now.

    Rows whose username or email exists are skipped, and so are the keys of a seeded
    look-alike of an existing user (it claims none). Returns each username's id.
    """
    conn.execute_many(INSERT_USER_SEEDED, rows)
    found = conn.all(SELECT_IDS_BY_USERNAMES, {"usernames": [row["username"] for row in rows]})
    ids = {row["username"]: row["id"] for row in found}
    keys = [
        {
            "user_id": ids[row["username"]],
            "username": user_keys.username_key(row["username"]),
            "email": user_keys.email_key(row["email"]),
        }
        for row in rows
        if row["username"] in ids
    ]
    conn.execute_many(INSERT_KEYS_SEEDED, keys)
    return ids
