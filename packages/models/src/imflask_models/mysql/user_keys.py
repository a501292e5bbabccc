"""The ``user_keys`` table: one normalized key per username and per email, each unique.

Two usernames that look alike share a key, and so do two spellings of one email;
the unique keys on these columns, written in the same transaction as the user
row, are what keeps a second look-alike out, however many register at once.
The ``users`` row keeps the name as it was registered.

- A username's key: NFKC, case folding, then the UTS #39 skeleton (each character
  mapped to the prototype of its confusables, from the ``confusable_homoglyphs``
  package's copy of Unicode's confusables.txt), then NFKC and case folding again:
  ``Jake``, its fullwidth and mathematical-bold twins and ``jake`` with a Cyrillic
  ``a`` share one, and so do ``bob0`` and ``bobO``, ``tim`` and ``tirn``. (Capital
  ``I`` and ``l`` do not: case folding comes first, so ``I`` is ``i``.)
- An email's key: NFKC and case folding (emails are never shown, so look-alike
  characters are not folded).

A key is stored as the SHA-256 of the normalized text: any length fits the column.
A NULL key claims nothing: the migration that backfilled the keys (0004) gives it to
the later of two look-alikes that existed before it, which keep their names.
Changing these functions (or the confusables data) changes keys: it needs a
migration that recomputes them, as 0004 computes them.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from functools import cache
from typing import Any, Protocol

from imflask_models.mysql.database import SqlConnection

# confusables.txt writes right-to-left characters between two of these, for display.
_LEFT_TO_RIGHT_MARK = "\u200e"
_SKELETON_ROUNDS = 4  # a prototype of several characters may hold a mapped one


def username_key(username: str) -> str:
    """The key ``username`` shares with every name that looks like it."""
    return _digest(_fold(_skeleton(_fold(username))))


def email_key(email: str) -> str:
    """The key ``email`` shares with every spelling of it that differs in case or width."""
    return _digest(_fold(email.strip()))


def _fold(text: str) -> str:
    """NFKC with case folding (Unicode's NFKC_Casefold, without removing ignorables)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def _skeleton(text: str) -> str:
    """UTS #39's skeleton: NFD, each character to its prototype, NFD again."""
    prototypes = _prototypes()
    for _ in range(_SKELETON_ROUNDS):
        decomposed = unicodedata.normalize("NFD", text)
        mapped = unicodedata.normalize("NFD", "".join(prototypes.get(c, c) for c in decomposed))
        if mapped == decomposed:
            break
        text = mapped
    return text


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@cache
def _prototypes() -> dict[str, str]:
    """Each confusable character to the prototype it looks like.

    The package keeps confusables.txt as a graph: every line ``source → prototype``
    links the two both ways. A prototype is never a source, so each group of
    look-alikes is a star around its prototype; in a group of two, either one
    serves (a prototype of several characters is preferred, then the lower code
    point), as long as the whole group maps to the same one.
    """
    from confusable_homoglyphs.confusables import confusables_data  # 0.9 MB: on first use

    linked: defaultdict[str, set[str]] = defaultdict(set)
    for char, homoglyphs in confusables_data.items():
        for homoglyph in homoglyphs:
            a = char.replace(_LEFT_TO_RIGHT_MARK, "")
            b = homoglyph["c"].replace(_LEFT_TO_RIGHT_MARK, "")
            if a and b and a != b:
                linked[a].add(b)
                linked[b].add(a)
    prototypes = {}
    for char, around in linked.items():
        if len(char) != 1 or len(around) != 1:
            continue  # a sequence, or the hub of its star: a prototype
        (other,) = around
        if len(linked[other]) > 1 or len(other) > 1 or other < char:
            prototypes[char] = other
    return prototypes


INSERT_KEYS = """
INSERT INTO user_keys (user_id, username, email)
VALUES (%(user_id)s, %(username)s, %(email)s)
"""
# One statement for either key or both: set_<column> says which ones change.
UPDATE_KEYS = """
UPDATE user_keys SET
    username = CASE WHEN %(set_username)s THEN %(username)s ELSE username END,
    email    = CASE WHEN %(set_email)s    THEN %(email)s    ELSE email END
WHERE user_id = %(user_id)s
"""
SELECT_USERS_WITHOUT_KEYS = """
SELECT u.id, u.username, u.email FROM users u
LEFT JOIN user_keys k ON k.user_id = u.id
WHERE k.user_id IS NULL AND u.id > %(after)s
ORDER BY u.id LIMIT %(limit)s
"""
SELECT_CLAIMED_USERNAMES = "SELECT username FROM user_keys WHERE username IN %(keys)s"
SELECT_CLAIMED_EMAILS = "SELECT email FROM user_keys WHERE email IN %(keys)s"
BACKFILL_BATCH = 500


def insert_keys(conn: SqlConnection, *, user_id: int, username: str, email: str) -> None:
    """Claim the keys of a new user's name and email; ``DuplicateKey`` if one is taken."""
    conn.execute(
        INSERT_KEYS,
        {"user_id": user_id, "username": username_key(username), "email": email_key(email)},
    )


def update_keys(
    conn: SqlConnection, *, user_id: int, username: str | None, email: str | None
) -> None:
    """Claim the keys of a changed name and/or email (None: unchanged)."""
    conn.execute(
        UPDATE_KEYS,
        {
            "user_id": user_id,
            "set_username": username is not None,
            "username": None if username is None else username_key(username),
            "set_email": email is not None,
            "email": None if email is None else email_key(email),
        },
    )


class Statements(Protocol):
    """What ``backfill_keys`` runs on: a ``SqlConnection``, or a migration's connection."""

    def all(self, query: str, params: Any = None) -> list[dict[str, Any]]: ...

    def execute_many(self, query: str, rows: Sequence[Any]) -> int: ...


def backfill_keys(conn: Statements) -> int:
    """Give every user without keys theirs, oldest first; return how many were given.

    A key an older user holds already stays theirs: the younger look-alike gets NULL
    for it (keeps the name, claims nothing). Safe to run again.
    """
    given, after = 0, 0
    while batch := conn.all(SELECT_USERS_WITHOUT_KEYS, {"after": after, "limit": BACKFILL_BATCH}):
        rows = [
            {"user_id": row["id"], "username": username_key(row["username"]),
             "email": email_key(row["email"])}
            for row in batch
        ]  # fmt: skip
        for column, query in (("username", SELECT_CLAIMED_USERNAMES),
                              ("email", SELECT_CLAIMED_EMAILS)):  # fmt: skip
            claimed = {r[column] for r in conn.all(query, {"keys": [r[column] for r in rows]})}
            for row in rows:
                if row[column] in claimed:
                    row[column] = None
                else:
                    claimed.add(row[column])
        conn.execute_many(INSERT_KEYS, rows)
        given += len(rows)
        after = batch[-1]["id"]
    return given
