"""Fixtures shared by every package's tests: real stores, a context, an app, isolation.

By default the stores are local: a SQLite file, and the embedded MongoDB-wire
server and Redis that development uses, started in a temporary folder. Set
IMFLASK_TEST_MYSQL_URI, IMFLASK_TEST_MONGO_URI and IMFLASK_TEST_REDIS_URL to
run the same tests against real servers; a configured server that does not
answer fails the run, it is never skipped.

Each run gets its own SQL database (or file), Mongo database and Redis key
prefix, all removed at the end; each test starts from empty tables,
collections and keys.

``ctx`` is built by ``bootstrap``, as the app and the worker build theirs, with
no Flask app; ``app`` and ``client`` are the testing app on that same context.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pymongo
import pymysql
import pytest
import redis

from imflask_controllers.context import Context, bootstrap
from imflask_core import embedded
from imflask_core.config import Settings, load_settings
from imflask_models.redis import jobs

# One ast.parse at a time on CPython 3.11 (testkit/ast_guard.py); the fault suite's fixtures
# (server processes on free ports, fault_app, serve), the
# topology suite's (one imflask-cluster per session: cluster, healthy_cluster), and the
# check that the controllers', models' and worker's tests run without the web stack.
pytest_plugins = ["testkit.ast_guard", "testkit.fixtures", "testkit.cluster", "testkit.flask_free"]

RUN_ID = uuid.uuid4().hex[:10]


@dataclass(frozen=True)
class StoreUris:
    mysql_uri: str
    mongo_uri: str
    mongo_db_name: str
    redis_url: str
    redis_key_prefix: str

    jobs_queue: str

    def overrides(self) -> dict[str, str]:
        return {
            "mysql_uri": self.mysql_uri,
            "mongo_uri": self.mongo_uri,
            "mongo_db_name": self.mongo_db_name,
            "redis_url": self.redis_url,
            "redis_key_prefix": self.redis_key_prefix,
            "jobs_queue": self.jobs_queue,
        }

    def environment(self) -> dict[str, str]:
        """The same stores as FLASK_* variables, for a worker or CLI child process."""
        return {
            "FLASK_CONFIG": "testing",
            "FLASK_MYSQL_URI": self.mysql_uri,
            "FLASK_MONGO_URI": self.mongo_uri,
            "FLASK_MONGO_DB_NAME": self.mongo_db_name,
            "FLASK_REDIS_URL": self.redis_url,
            "FLASK_REDIS_KEY_PREFIX": self.redis_key_prefix,
            "FLASK_JOBS_QUEUE": self.jobs_queue,
        }


@pytest.fixture(scope="session")
def embedded_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A throw-away instance folder for the embedded Mongo and Redis daemons."""
    path = tmp_path_factory.mktemp("instance")
    yield path
    embedded.stop(path)


@pytest.fixture(scope="session")
def store_uris(
    tmp_path_factory: pytest.TempPathFactory, embedded_instance: Path
) -> Iterator[StoreUris]:
    mysql_uri, drop_sql = _sql_database(tmp_path_factory)
    mongo_uri = os.environ.get("IMFLASK_TEST_MONGO_URI") or embedded.ensure_running(
        embedded.MONGO, embedded_instance
    )
    redis_url = os.environ.get("IMFLASK_TEST_REDIS_URL") or embedded.ensure_running(
        embedded.REDIS, embedded_instance
    )
    uris = StoreUris(
        mysql_uri=mysql_uri,
        mongo_uri=mongo_uri,
        mongo_db_name=f"imflask_test_{RUN_ID}",
        redis_url=redis_url,
        redis_key_prefix=f"imflask_test_{RUN_ID}:",
        jobs_queue=f"imflask_test_{RUN_ID}",
    )
    _require_mongo(uris)
    _require_redis(uris)
    yield uris
    drop_sql()
    with pymongo.MongoClient(uris.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        client.drop_database(uris.mongo_db_name)
    client = redis.Redis.from_url(uris.redis_url)
    for key in client.scan_iter(match=uris.redis_key_prefix + "*", count=500):
        client.delete(key)
    for key in client.scan_iter(match=f"rq:*{uris.jobs_queue}*", count=500):
        client.delete(key)
    client.close()


@pytest.fixture(scope="session")
def session_context(store_uris: StoreUris) -> Iterator[Context]:
    """The run's context, built by ``bootstrap`` as the app and the worker build theirs
    (no Flask app), with the schema and indexes applied."""
    ctx = bootstrap(testing_settings(store_uris), migrate=True)
    yield ctx
    ctx.close()


@pytest.fixture
def ctx(session_context: Context) -> Iterator[Context]:
    """The controllers' context on the run's real stores; every store is emptied after
    the test."""
    yield session_context
    empty_stores(session_context)


@pytest.fixture
def make_context(ctx: Context, store_uris: StoreUris) -> Iterator[Callable[..., Context]]:
    """``make_context(**overrides)``: another context on the same stores with some
    settings changed (``jobs_inline=False``, say); closed (and the stores emptied,
    through ``ctx``) after the test."""
    made: list[Context] = []

    def make(**overrides: object) -> Context:
        new = bootstrap(testing_settings(store_uris, **overrides), migrate=False)
        made.append(new)
        return new

    yield make
    for new in made:
        new.close()


def testing_settings(store_uris: StoreUris, **overrides: object) -> Settings:
    """The testing configuration on the run's stores, with ``overrides``; no tracing,
    whatever OTEL_* variables the shell has (the tracing tests turn it on themselves)."""
    return load_settings("testing").replace(
        **{"tracing": None, **store_uris.overrides(), **overrides}
    )


@pytest.fixture(scope="session")
def session_app(session_context: Context):
    """The testing app, on the run's context (built the first time a test needs it)."""
    from imflask_app import create_app

    return create_app(context=session_context)


@pytest.fixture
def app(session_app, ctx: Context):
    """The testing app; every store is emptied after the test (through ``ctx``, which
    is the app's context)."""
    return session_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_app(app, store_uris: StoreUris):
    """Build another testing app with some settings changed; closed (and the stores
    emptied, through ``app``) after the test."""
    from imflask_app import create_app
    from imflask_app.factory import context_of

    made = []

    def make(**overrides):
        new_app = create_app("testing", **{**store_uris.overrides(), **overrides})
        made.append(new_app)
        return new_app

    yield make
    for made_app in made:
        context_of(made_app).close()


@pytest.fixture
def job_queue(ctx):
    """The run's RQ queue name; emptied with its registries after the test (``ctx``)."""
    return ctx.settings.jobs_queue


def empty_stores(ctx) -> None:
    """Delete every row, document and key the test wrote; schema and indexes stay."""
    stores = ctx.stores
    with stores.sql.connection() as conn:
        if conn.dialect.name == "mysql":
            tables = [next(iter(row.values())) for row in conn.all("SHOW TABLES")]
            conn.execute("SET FOREIGN_KEY_CHECKS = 0")
        else:
            tables = [
                row["name"]
                for row in conn.all(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite%%'"
                )
            ]
            conn.execute("PRAGMA foreign_keys = OFF")
        try:
            for table in tables:
                if "yoyo" not in table:
                    conn.execute(f"DELETE FROM {table}")  # noqa: S608 - names from the schema
        finally:
            if conn.dialect.name == "mysql":
                conn.execute("SET FOREIGN_KEY_CHECKS = 1")
            else:
                conn.execute("PRAGMA foreign_keys = ON")
    db = stores.mongo.db
    # Thousands of documents (a fan-out's notices) may take longer than the app's
    # deadline to delete on a loaded machine: the cleanup has its own.
    with pymongo.timeout(60):
        for name in db.list_collection_names():
            if not name.startswith("system."):
                db[name].delete_many({})
    stores.redis.delete_all_keys()
    jobs.drop_queue(stores.redis, ctx.settings.jobs_queue)  # an inline job that failed queues


def _sql_database(tmp_path_factory: pytest.TempPathFactory):
    base = os.environ.get("IMFLASK_TEST_MYSQL_URI")
    if not base:
        path = tmp_path_factory.mktemp("sql") / "test.sqlite3"
        return f"sqlite:///{path}", lambda: None
    parts = urlsplit(base)
    name = f"imflask_test_{RUN_ID}"
    server = dict(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        connect_timeout=5,
    )
    try:
        conn = pymysql.connect(**server)
    except pymysql.err.OperationalError as error:
        pytest.fail(f"IMFLASK_TEST_MYSQL_URI={base} does not answer: {error}")
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    conn.close()

    def drop() -> None:
        with pymysql.connect(**server) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def _require_mongo(uris: StoreUris) -> None:
    try:
        with pymongo.MongoClient(uris.mongo_uri, serverSelectionTimeoutMS=5000) as client:
            client.admin.command("ping")
    except pymongo.errors.PyMongoError as error:
        pytest.fail(f"MongoDB at {uris.mongo_uri} does not answer: {error}")


def _require_redis(uris: StoreUris) -> None:
    try:
        client = redis.Redis.from_url(uris.redis_url, socket_connect_timeout=5)
        client.ping()
        client.close()
    except redis.RedisError as error:
        pytest.fail(f"Redis at {uris.redis_url} does not answer: {error}")
