"""The schema is written once (``migrations/000N.*.py``) and both dialects build it alike.

Each database is built by the real migration runner and read back through the
database's own catalogue (SQLite's PRAGMAs, MariaDB's information_schema), then
compared with what the migrations declare and with the other dialect. SQLite
runs on every pass; MariaDB joins when IMFLASK_TEST_MYSQL_URI (.ci/run's
real-server pass) or FLASK_MYSQL_URI names a MySQL server.
"""

from __future__ import annotations

import ast
import os
import sqlite3
import textwrap
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pymysql
import pytest

from imflask_models.errors import DuplicateKey
from imflask_models.mysql import migrate, schema
from imflask_models.mysql.database import SqlDatabase
from imflask_models.mysql.dialect import parse_sql_uri
from testkit import source as source_code

MODELS_SOURCE = Path(schema.__file__).parents[1]


def _mysql_server() -> str | None:
    for variable in ("IMFLASK_TEST_MYSQL_URI", "FLASK_MYSQL_URI"):
        uri = os.environ.get(variable, "")
        if uri.startswith("mysql"):
            return uri
    return None


MYSQL_SERVER = _mysql_server()
DIALECTS = ["sqlite", "mysql"] if MYSQL_SERVER else ["sqlite"]
# Each built schema against the declared one; with a server, the two dialects too.
PAIRS = [("declared", d) for d in DIALECTS] + ([("sqlite", "mysql")] if MYSQL_SERVER else [])

# A multi-word table with a one-column and a two-column unique key, defaults and an index.
BOOKMARKS = '''
"""A multi-word table, as a resource added later would bring."""

from imflask_models.mysql.schema import (
    ID, REFERENCE, SMALLINT, column, index, migration, string, table, unique,
)

migration(
    table(
        "user_bookmarks",
        ID,
        column("user_id", REFERENCE),
        column("article_id", REFERENCE),
        column("public_slug", string(64)),
        column("note", string(200), default="it's good"),
        column("position", SMALLINT, default=0),
        column("folder", string(64), null=True),
        unique("uq_user_bookmarks_article", "user_id", "article_id"),
        unique("uq_user_bookmarks_public_slug", "public_slug"),
        index("ix_user_bookmarks_article", "article_id"),
    ),
)
'''


@pytest.fixture
def new_database(tmp_path):
    """``new_database(dialect)``: the URI of an empty database, removed after the test."""
    created = []

    def make(dialect: str) -> str:
        if dialect == "sqlite":
            return f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.sqlite3'}"
        assert MYSQL_SERVER is not None
        parts = urlsplit(MYSQL_SERVER)
        name = f"imflask_schema_{uuid.uuid4().hex[:12]}"
        with _server(MYSQL_SERVER) as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        created.append(name)
        return urlunsplit(parts._replace(path=f"/{name}"))

    yield make
    for name in created:
        with _server(MYSQL_SERVER) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


# A later migration adding columns to that table, as issue 13 added outbox.trace_context.
BOOKMARK_COLUMNS = """
from imflask_models.mysql.schema import SMALLINT, TEXT, column, columns_added

columns_added(
    "user_bookmarks",
    column("comment", TEXT, null=True),
    column("stars", SMALLINT, default=3),
)
"""


@pytest.fixture
def bookmarks_migrations(tmp_path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001.user_bookmarks.py").write_text(textwrap.dedent(BOOKMARKS))
    return folder


def _server(uri: str):
    t = parse_sql_uri(uri)
    return pymysql.connect(
        host=t.host, port=t.port, user=t.user, password=t.password, connect_timeout=5
    )


def built(dialect: str, new_database, migrations: Path = schema.MIGRATIONS) -> dict:
    """The shape of a database of ``dialect`` built by the migrations in ``migrations``."""
    if dialect == "declared":
        return declared_shape(schema.declared(migrations))
    uri = new_database(dialect)
    migrate.upgrade(uri, migrations)
    return sqlite_shape(uri) if dialect == "sqlite" else mysql_shape(uri)


def declared_shape(declared: schema.Schema) -> dict:
    return {
        t.name: {
            "columns": {
                c.name: (c.type.family, c.nullable, _default(c.default)) for c in t.columns
            },
            "primary_key": t.primary_key,
            "unique": sorted(key.columns for key in t.unique),
            "indexes": sorted((ix.name, ix.columns) for ix in t.indexes),
            "foreign_keys": sorted(
                (fk.column, fk.references, "id", fk.on_delete) for fk in t.foreign_keys
            ),
        }
        for t in declared.tables.values()
    }


def _default(value: int | str | None) -> str | None:
    """A default as both catalogues spell it: ``0``, ``'text'`` (quotes doubled inside)."""
    if value is None or isinstance(value, int):
        return None if value is None else str(value)
    return "'" + value.replace("'", "''") + "'"


SQLITE_FAMILIES = {"INTEGER": "integer", "TEXT": "text", "DATETIME": "datetime"}
MYSQL_FAMILIES = {
    "bigint": "integer",
    "smallint": "integer",
    "varchar": "text",
    "char": "text",
    "text": "text",
    "mediumtext": "text",
    "datetime": "datetime",
}


def sqlite_shape(uri: str) -> dict:
    conn = sqlite3.connect(parse_sql_uri(uri).path)
    try:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%yoyo%'"
            )
        ]
        return {name: _sqlite_table(conn, name) for name in names}
    finally:
        conn.close()


def _sqlite_table(conn: sqlite3.Connection, name: str) -> dict:
    info = conn.execute(f"PRAGMA table_info({name})").fetchall()
    indexes = conn.execute(f"PRAGMA index_list({name})").fetchall()

    def columns_of(index: str) -> tuple[str, ...]:
        rows = conn.execute(f"PRAGMA index_info({index})").fetchall()
        return tuple(row[2] for row in sorted(rows))

    keys = conn.execute(f"PRAGMA foreign_key_list({name})").fetchall()
    return {
        "columns": {
            col: (SQLITE_FAMILIES[kind], not notnull and not pk, default)
            for _, col, kind, notnull, default, pk in info
        },
        "primary_key": tuple(row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]),
        "unique": sorted(columns_of(ix[1]) for ix in indexes if ix[3] == "u"),
        "indexes": sorted((ix[1], columns_of(ix[1])) for ix in indexes if ix[3] == "c"),
        "foreign_keys": sorted((fk[3], fk[2], fk[4], fk[6]) for fk in keys),
    }


def mysql_shape(uri: str) -> dict:
    database = parse_sql_uri(uri).database
    with _server(uri) as conn, conn.cursor(pymysql.cursors.DictCursor) as cursor:
        cursor.execute(
            "SELECT table_name AS t, column_name AS c, data_type AS type, "
            "is_nullable AS nullable, column_default AS dflt FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name NOT LIKE %s ORDER BY ordinal_position",
            (database, "%yoyo%"),
        )
        columns = cursor.fetchall()
        cursor.execute(
            "SELECT table_name AS t, index_name AS ix, non_unique, column_name AS c "
            "FROM information_schema.statistics WHERE table_schema = %s "
            "ORDER BY table_name, index_name, seq_in_index",
            (database,),
        )
        statistics = cursor.fetchall()
        cursor.execute(
            "SELECT k.table_name AS t, k.column_name AS c, k.referenced_table_name AS rt, "
            "k.referenced_column_name AS rc, r.delete_rule AS rule "
            "FROM information_schema.key_column_usage k "
            "JOIN information_schema.referential_constraints r "
            "ON r.constraint_schema = k.constraint_schema "
            "AND r.constraint_name = k.constraint_name "
            "WHERE k.table_schema = %s AND k.referenced_table_name IS NOT NULL",
            (database,),
        )
        references = cursor.fetchall()
    shape: dict = {}
    for row in columns:
        table = shape.setdefault(
            row["t"],
            {"columns": {}, "primary_key": (), "unique": [], "indexes": [], "foreign_keys": []},
        )
        default = None if row["dflt"] in (None, "NULL") else row["dflt"]
        table["columns"][row["c"]] = (
            MYSQL_FAMILIES[row["type"]],
            row["nullable"] == "YES",
            default,
        )
    indexes: dict[tuple[str, str], tuple[bool, tuple[str, ...]]] = {}
    for row in statistics:
        unique, cols = indexes.get((row["t"], row["ix"]), (not row["non_unique"], ()))
        indexes[(row["t"], row["ix"])] = (unique, (*cols, row["c"]))
    for (name, index), (unique, cols) in indexes.items():
        if name not in shape:
            continue  # yoyo's own tables
        if index == "PRIMARY":
            shape[name]["primary_key"] = cols
        elif unique:
            shape[name]["unique"].append(cols)
        else:
            shape[name]["indexes"].append((index, cols))
    for row in references:
        shape[row["t"]]["foreign_keys"].append((row["c"], row["rt"], row["rc"], row["rule"]))
    for table in shape.values():
        for part in ("unique", "indexes", "foreign_keys"):
            table[part].sort()
    return shape


@pytest.mark.parametrize(("expected", "actual"), PAIRS)
def test_the_schemas_agree_on_tables_columns_keys_and_indexes(expected, actual, new_database):
    want = built(expected, new_database)
    got = built(actual, new_database)

    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], name


@pytest.mark.parametrize(("expected", "actual"), PAIRS)
def test_a_multi_word_table_with_defaults_builds_alike(
    expected, actual, new_database, bookmarks_migrations
):
    want = built(expected, new_database, bookmarks_migrations)
    got = built(actual, new_database, bookmarks_migrations)

    assert got == want
    assert got["user_bookmarks"]["columns"]["note"] == ("text", False, "'it''s good'")


@pytest.mark.parametrize(("expected", "actual"), PAIRS)
def test_columns_added_to_a_table_build_alike(expected, actual, new_database, bookmarks_migrations):
    (bookmarks_migrations / "0002.bookmark_comments.py").write_text(BOOKMARK_COLUMNS)

    want = built(expected, new_database, bookmarks_migrations)
    got = built(actual, new_database, bookmarks_migrations)

    assert got == want
    assert got["user_bookmarks"]["columns"]["comment"] == ("text", True, None)
    assert got["user_bookmarks"]["columns"]["stars"] == ("integer", False, "3")


def test_an_added_column_that_existing_rows_cannot_fill_is_refused():
    with pytest.raises(ValueError, match="stars: a column added to a table needs null=True"):
        schema.columns_added("user_bookmarks", schema.column("stars", schema.SMALLINT))


def test_the_migration_ids_are_the_ones_databases_already_recorded(tmp_path):
    """yoyo keys an applied migration by its id (the file name): a renamed one would run
    again on every database that has it. New migrations come after these."""
    uri = f"sqlite:///{tmp_path / 'ids.sqlite3'}"
    recorded = ["0001.users", "0002.conduit", "0003.outbox", "0004.user_keys",
                "0005.route_word_slugs", "0006.outbox_trace_context"]  # fmt: skip

    assert migrate.status(uri).pending[: len(recorded)] == recorded


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_duplicate_on_a_multi_word_table_names_the_key_columns(
    dialect, new_database, bookmarks_migrations
):
    uri = new_database(dialect)
    migrate.upgrade(uri, bookmarks_migrations)
    db = SqlDatabase(uri, schema=schema.declared(bookmarks_migrations))
    insert = (
        "INSERT INTO user_bookmarks (user_id, article_id, public_slug) "
        "VALUES (%(user)s, %(article)s, %(slug)s)"
    )
    try:
        with db.connection() as conn:
            conn.execute(insert, {"user": 1, "article": 2, "slug": "a"})
            with pytest.raises(DuplicateKey) as pair:
                conn.execute(insert, {"user": 1, "article": 2, "slug": "b"})
            with pytest.raises(DuplicateKey) as slug:
                conn.execute(insert, {"user": 1, "article": 3, "slug": "a"})
            with pytest.raises(DuplicateKey) as primary:
                conn.execute(
                    "INSERT INTO user_bookmarks (id, user_id, article_id, public_slug) "
                    "VALUES (%(id)s, 9, 9, 'z')",
                    {"id": conn.scalar("SELECT MAX(id) AS id FROM user_bookmarks")},
                )
    finally:
        db.close()

    assert pair.value.field == "user_id, article_id"
    assert slug.value.field == "public_slug"
    assert primary.value.field == "key"


def test_a_foreign_key_without_an_index_is_refused_when_declared():
    # MySQL would add an index of its own, SQLite none: the two schemas would differ.
    with pytest.raises(ValueError, match="needs an index that starts with article_id"):
        schema.table(
            "notes",
            schema.ID,
            schema.column("article_id", schema.REFERENCE),
            schema.foreign_key("fk_notes_article", "article_id", "articles"),
        )


def test_a_key_on_an_unknown_column_is_refused_when_declared():
    with pytest.raises(ValueError, match="no column slug"):
        schema.table("notes", schema.ID, schema.unique("uq_notes_slug", "slug"))


def test_only_the_dialect_module_knows_which_driver_it_talks_to():
    """No module of the models but ``dialect.py`` imports a SQL driver or asks which
    dialect it runs on."""
    drivers = {"pymysql", "sqlite3", "dbutils"}
    offenders = []
    for path in sorted(MODELS_SOURCE.rglob("*.py")):
        if path.name == "dialect.py":
            continue
        for node in ast.walk(source_code.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Name) and node.id in {"SQLITE", "MYSQL"}:
                names = [node.id]
            elif isinstance(node, ast.Compare):
                names = [
                    f"== {c.value!r}"
                    for c in node.comparators
                    if isinstance(c, ast.Constant) and c.value in {"sqlite", "mysql"}
                ]
                offenders += [f"{path.name}:{node.lineno} {n}" for n in names]
                continue
            else:
                continue
            for name in names:
                if name.split(".")[0] in drivers or name in {"SQLITE", "MYSQL"}:
                    offenders.append(f"{path.name}:{node.lineno} {name}")

    assert offenders == []


def test_a_unique_key_name_taken_by_another_table_is_refused(bookmarks_migrations):
    # MariaDB's duplicate-key error names the key alone: its name must say which one.
    (bookmarks_migrations / "0002.more.py").write_text(
        BOOKMARKS.replace('"user_bookmarks"', '"other_bookmarks"')
    )

    with pytest.raises(ValueError, match="uq_user_bookmarks_article, uq_user_bookmarks_public"):
        schema.declared(bookmarks_migrations)


INSERT_OLD_USER = (
    "INSERT INTO users (username, email, password_hash, created_at, updated_at) "
    "VALUES (%(username)s, %(email)s, 'h', %(now)s, %(now)s)"
)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_existing_users_get_their_keys_and_the_older_look_alike_keeps_the_claim(
    dialect, new_database, tmp_path
):
    from imflask_models.mysql import users as users_table
    from imflask_models.mysql.dialect import utcnow
    from imflask_models.mysql.user_keys import email_key, username_key

    # given a database of before 0004, with look-alikes the old code let in
    before = tmp_path / "before_0004"
    before.mkdir()
    for path in sorted(schema.MIGRATIONS.glob("000[123].*.py")):
        (before / path.name).write_text(path.read_text())
    uri = new_database(dialect)
    migrate.upgrade(uri, before)
    old_users = [("jake", "jake@x.test"), ("Jake", "JAKE@x.test"), ("bob", "bob@x.test")]
    db = SqlDatabase(uri, schema=schema.declared())
    try:
        with db.connection() as conn:
            for username, email in old_users:
                conn.execute(
                    INSERT_OLD_USER, {"username": username, "email": email, "now": utcnow()}
                )
        # when 0004 runs
        assert migrate.upgrade(uri)[0] == "0004.user_keys"
        with db.connection() as conn:
            keys = conn.all(
                "SELECT u.username, k.username AS username_key, k.email AS email_key "
                "FROM users u JOIN user_keys k ON k.user_id = u.id ORDER BY u.id"
            )
            with pytest.raises(DuplicateKey) as third:
                users_table.insert_user(
                    conn, username="JAKE", email="new@x.test", password_hash="h"
                )
            younger = users_table.user_by_username(conn, "Jake")
            assert younger is not None
            users_table.update_user(conn, younger.id, {"username": "Jake", "bio": "kept"})
            users_table.update_user(conn, younger.id, {"username": "jacob"})
            renamed = conn.one(
                "SELECT username FROM user_keys WHERE user_id = %(id)s", {"id": younger.id}
            )
    finally:
        db.close()

    # then every user has keys, the younger look-alike none, and nobody takes a third
    assert keys == [
        {
            "username": "jake",
            "username_key": username_key("jake"),
            "email_key": email_key("jake@x.test"),
        },
        {"username": "Jake", "username_key": None, "email_key": None},
        {
            "username": "bob",
            "username_key": username_key("bob"),
            "email_key": email_key("bob@x.test"),
        },
    ]
    assert third.value.field == "username"
    assert renamed == {"username": username_key("jacob")}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_article_whose_slug_is_a_route_word_gets_a_readable_one(dialect, new_database, tmp_path):
    from imflask_models.mysql import articles as articles_table
    from imflask_models.mysql.dialect import utcnow

    # given a database of before 0005 with an article the old code slugged "feed"
    before = tmp_path / "before_0005"
    before.mkdir()
    for path in sorted(schema.MIGRATIONS.glob("000[1234].*.py")):
        (before / path.name).write_text(path.read_text())
    uri = new_database(dialect)
    migrate.upgrade(uri, before)
    db = SqlDatabase(uri, schema=schema.declared())
    try:
        with db.connection() as conn:
            now = {"now": utcnow()}
            conn.execute(INSERT_OLD_USER, {"username": "jake", "email": "jake@x.test", **now})
            for slug in ("feed", "feeding"):
                conn.execute(
                    "INSERT INTO articles (slug, title, description, body, author_id, "
                    "created_at, updated_at) SELECT %(slug)s, 'Feed', 'd', 'b', id, %(now)s, "
                    "%(now)s FROM users",
                    {"slug": slug, **now},
                )

        # when 0005 runs (and the migrations after it)
        assert migrate.upgrade(uri)[0] == "0005.route_word_slugs"
        with db.connection() as conn:
            slugs = [row["slug"] for row in conn.all("SELECT slug FROM articles ORDER BY id")]
            moved = articles_table.article_by_slug(conn, slugs[0])
    finally:
        db.close()

    # then the "feed" article has a slug no route hides, and the others keep theirs
    assert slugs[0].startswith("feed-article-")
    assert slugs[1] == "feeding"
    assert moved is not None
