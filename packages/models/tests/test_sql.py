"""The relational store on its real driver: migrations, users, transactions, failures."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pymysql
import pytest

from imflask_models.errors import DuplicateKey, StoreUnavailable, TransactionConflict
from imflask_models.mysql import database, migrate
from imflask_models.mysql import users as users_table
from imflask_models.mysql.database import SqlDatabase
from imflask_models.mysql.dialect import MYSQL, SQLITE, parse_sql_uri


def add_jake(conn, **changes):
    fields = {"username": "jake", "email": "jake@jake.jake", "password_hash": "h", **changes}
    return users_table.insert_user(conn, **fields)


def test_upgrading_twice_applies_nothing_the_second_time(ctx):
    uri = ctx.settings.mysql_uri

    again = migrate.upgrade(uri)
    state = migrate.status(uri)

    assert again == []
    assert state.pending == []
    assert "0001.users" in state.applied


def test_a_fresh_database_gets_every_migration(tmp_path):
    uri = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"

    assert migrate.status(uri).pending == migrate.upgrade(uri)
    assert migrate.status(uri).pending == []


def test_a_user_round_trips_through_insert_select_and_update(ctx):
    with ctx.stores.sql.connection() as conn:
        user_id = add_jake(conn)
        users_table.update_user(conn, user_id, {"bio": "hi", "image": None})
        by_id = users_table.user_by_id(conn, user_id)
        by_email = users_table.user_by_email(conn, "jake@jake.jake")
        by_name = users_table.user_by_username(conn, "jake")

    assert by_id == by_email == by_name
    assert by_id.bio == "hi"
    assert by_id.updated_at >= by_id.created_at
    assert by_id.created_at.microsecond % 1000 == 0


def test_a_taken_username_or_email_raises_duplicate_key_naming_it(ctx):
    with ctx.stores.sql.connection() as conn:
        add_jake(conn)
        with pytest.raises(DuplicateKey) as username:
            add_jake(conn, email="other@jake.jake")
        with pytest.raises(DuplicateKey) as email:
            add_jake(conn, username="other")

    assert username.value.field == "username"
    assert email.value.field == "email"


def test_a_failed_transaction_leaves_nothing_behind(ctx):
    with pytest.raises(DuplicateKey), ctx.stores.sql.transaction() as conn:  # noqa: PT012
        add_jake(conn)
        add_jake(conn, email="other@jake.jake")  # same username: the whole block rolls back

    with ctx.stores.sql.connection() as conn:
        assert users_table.user_by_username(conn, "jake") is None


def test_updating_an_unknown_column_is_refused(ctx):
    with ctx.stores.sql.connection() as conn, pytest.raises(ValueError, match="not updatable"):
        users_table.update_user(conn, 1, {"id": 2})


def test_connections_go_back_to_the_pool(ctx):
    for _ in range(50):
        with ctx.stores.sql.connection() as conn:
            assert conn.scalar("SELECT 1 AS one") == 1


def test_an_unreachable_server_raises_store_unavailable_quickly():
    db = SqlDatabase("mysql://root@127.0.0.1:1/nowhere", connect_timeout=1, read_timeout=1)
    started = time.monotonic()

    with pytest.raises(StoreUnavailable) as raised:
        db.ping()

    assert raised.value.store == "mysql"
    assert time.monotonic() - started < 5


def test_queries_are_written_once_and_translated_for_sqlite():
    query = "INSERT IGNORE INTO t (a, b) VALUES (%(a)s, %(b)s) -- 100%%"

    assert MYSQL.sql(query) == query
    assert SQLITE.sql(query) == "INSERT OR IGNORE INTO t (a, b) VALUES (:a, :b) -- 100%"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sqlite:////tmp/x.db", {"path": "/tmp/x.db"}),
        ("mysql://u:p%40ss@h:3307/db", {"host": "h", "port": 3307, "password": "p@ss"}),
        ("mysql+pymysql://u@h/db", {"host": "h", "port": 3306, "database": "db"}),
    ],
)
def test_sql_uris_are_parsed(uri, expected):
    target = parse_sql_uri(uri)

    for name, value in expected.items():
        assert getattr(target, name) == value


@pytest.mark.parametrize("uri", ["postgres://h/db", "mysql://h", "nonsense"])
def test_other_uris_are_refused_with_the_expected_shape(uri):
    with pytest.raises(ValueError, match="FLASK_MYSQL_URI must look like"):
        parse_sql_uri(uri)


# A MySQL server closes connections on its own (restart, wait_timeout, KILL);
# SQLite has no server, so these run on the real-server pass of .ci/run.
mysql_only = pytest.mark.skipif(
    "sqlite" in (os.environ.get("IMFLASK_TEST_MYSQL_URI") or "sqlite"),
    reason="needs a MySQL server: set IMFLASK_TEST_MYSQL_URI (.ci/run's second pass does)",
)


def close_server_side(ctx, victim=None):
    """Have the server close ``victim``'s connection (or every connection to the test
    database), as a restart or ``wait_timeout`` would; from outside the pool."""
    t = ctx.stores.sql.target
    with pymysql.connect(host=t.host, port=t.port, user=t.user, password=t.password) as admin:
        cursor = admin.cursor()
        if victim is not None:
            ids = [victim.scalar("SELECT CONNECTION_ID() AS id")]
        else:
            cursor.execute(
                "SELECT id FROM information_schema.processlist WHERE db = %s", (t.database,)
            )
            ids = [row[0] for row in cursor.fetchall()]
        for connection_id in ids:
            cursor.execute("KILL CONNECTION %s", (connection_id,))


@mysql_only
def test_a_pooled_connection_the_server_closed_is_replaced_on_the_next_read(ctx):
    with ctx.stores.sql.connection() as first, ctx.stores.sql.connection() as second:
        pass  # two connections in the pool
    close_server_side(ctx)

    with ctx.stores.sql.connection() as first, ctx.stores.sql.connection() as second:
        assert first.scalar("SELECT 1 AS one") == 1
        assert second.scalar("SELECT 1 AS one") == 1


@mysql_only
def test_a_transaction_on_a_pooled_connection_the_server_closed_starts_afresh(ctx):
    with ctx.stores.sql.connection():
        pass  # a connection in the pool
    close_server_side(ctx)

    with ctx.stores.sql.transaction() as conn:
        add_jake(conn)

    with ctx.stores.sql.connection() as conn:
        assert users_table.user_by_username(conn, "jake") is not None


@mysql_only
def test_a_transaction_whose_connection_dies_halfway_applies_nothing(ctx):
    with pytest.raises(StoreUnavailable), ctx.stores.sql.transaction() as conn:  # noqa: PT012
        add_jake(conn)
        close_server_side(ctx, conn)
        add_jake(conn, username="finn", email="finn@jake.jake")  # never on a new connection

    with ctx.stores.sql.connection() as conn:
        assert users_table.user_by_username(conn, "jake") is None
        assert users_table.user_by_username(conn, "finn") is None
    with ctx.stores.sql.transaction() as conn:  # and the pool still works
        add_jake(conn)


@mysql_only
def test_a_deadlock_victim_runs_again_and_both_writers_succeed(ctx):
    with ctx.stores.sql.connection() as conn:
        first, second = add_jake(conn), add_jake(conn, username="finn", email="finn@jake.jake")
    both_locked_one = threading.Barrier(2, timeout=10)
    attempts = []

    def lock_in_order(one: int, other: int):
        def work(conn):
            attempts.append(one)
            conn.one("SELECT id FROM users WHERE id = %(id)s FOR UPDATE", {"id": one})
            if len(attempts) <= 2:  # the first round: make the two lock orders cross
                both_locked_one.wait()
            conn.one("SELECT id FROM users WHERE id = %(id)s FOR UPDATE", {"id": other})
            users_table.update_user(conn, one, {"bio": f"locked {one} then {other}"})
            return one

        return lambda: ctx.stores.sql.run_transaction(work)

    with ThreadPoolExecutor(2) as pool:
        done = [
            pool.submit(lock_in_order(first, second)),
            pool.submit(lock_in_order(second, first)),
        ]
        results = sorted(future.result(timeout=30) for future in done)

    assert results == sorted([first, second])
    assert len(attempts) == 3  # the deadlock victim ran once more
    with ctx.stores.sql.connection() as conn:
        assert users_table.user_by_id(conn, first).bio == f"locked {first} then {second}"
        assert users_table.user_by_id(conn, second).bio == f"locked {second} then {first}"


@mysql_only
def test_a_lock_wait_timeout_is_a_conflict_not_an_outage(ctx, monkeypatch):
    monkeypatch.setattr(database, "CONFLICT_ATTEMPTS", 2)
    with ctx.stores.sql.connection() as conn:
        jake = add_jake(conn)
    runs = []

    def work(conn):
        runs.append(1)
        conn.execute("SET SESSION innodb_lock_wait_timeout = 1")
        users_table.update_user(conn, jake, {"bio": "waited"})

    with ctx.stores.sql.transaction() as holder:
        holder.one("SELECT id FROM users WHERE id = %(id)s FOR UPDATE", {"id": jake})
        with pytest.raises(TransactionConflict):
            ctx.stores.sql.run_transaction(work)

    assert len(runs) == 2
    with ctx.stores.sql.connection() as conn:  # the store is fine, and nothing was applied
        assert users_table.user_by_id(conn, jake).bio is None


def test_datetimes_are_written_in_one_text_format_even_after_migrations(tmp_path):
    """yoyo leaves its own sqlite3 datetime adapter (``T`` separator) behind; text
    comparisons between rows written before and after would then misorder them."""
    uri = f"sqlite:///{tmp_path / 'formats.sqlite3'}"
    migrate.upgrade(uri)
    db = SqlDatabase(uri)

    with db.connection() as conn:
        written = conn.scalar("SELECT %(at)s AS at", {"at": datetime(2026, 1, 2, 3, 4, 5, 678000)})

    assert written == "2026-01-02 03:04:05.678"
    db.close()
