"""pytest plugin of the fault suite: fresh server processes, apps built on them, a real HTTP server.

Loaded by the root ``conftest.py`` (``pytest_plugins``). Every fixture here is
function-scoped: each test gets its own processes and nothing it breaks leaks
into the next test.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from imflask_core.config import SentinelTarget
from testkit.sentinel import SentinelSet
from testkit.servers import MariaDbServer, MongoServer, RedisServer, ServerProcess

# Names the apps of one test share, as instances of one deployment would.
MONGO_DB_NAME = "imflask_faults"
REDIS_KEY_PREFIX = "imflask_faults:"
JOBS_QUEUE = "imflask_faults"

# Short enough that a test of a hung store does not wait long; each can be overridden.
FAULT_DEFAULTS: dict[str, object] = {
    "store_connect_timeout": 0.5,
    "store_read_timeout": 1.0,
}


def _started(server: ServerProcess) -> Iterator:
    try:
        yield server.start()
    finally:
        server.kill()
        server.remove_data()  # pytest keeps old temp folders; only the log stays


@pytest.fixture
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDbServer]:
    """A fresh started MariaDB on a free port (database ``imflask``); killed at teardown."""
    yield from _started(MariaDbServer(data_dir=tmp_path_factory.mktemp("mariadb")))


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A fresh started Redis without persistence on a free port; killed at teardown."""
    yield from _started(RedisServer(data_dir=tmp_path_factory.mktemp("redis")))


@pytest.fixture
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """A fresh started SecantusDB daemon on a free port; killed at teardown."""
    yield from _started(MongoServer(data_dir=tmp_path_factory.mktemp("mongo")))


@pytest.fixture
def sentinel_set(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    """A Redis master, a replica and three sentinels (quorum 2), started and known to
    each other; every process killed at teardown. ``fault_app(redis_url=sentinel_set.url)``."""
    redis_set = SentinelSet.create(tmp_path_factory.mktemp("sentinel-set"))
    try:
        yield redis_set.start()
    finally:
        redis_set.kill()


@pytest.fixture
def fault_app(request: pytest.FixtureRequest) -> Callable[..., object]:
    """``fault_app(**overrides)``: a testing app on this test's own server processes.

    A server fixture is started only when the app needs it: pass ``mysql_uri=``,
    ``mongo_uri=`` or ``redis_url=`` to point at something else. The schema and
    indexes are applied; each app's context is closed at teardown, before the
    servers are killed.
    """
    from imflask_app import create_app
    from imflask_app.factory import context_of

    def make(**overrides: Any):
        settings: dict[str, Any] = {  # create_app's keyword arguments
            **FAULT_DEFAULTS,
            "mongo_db_name": MONGO_DB_NAME,
            "redis_key_prefix": REDIS_KEY_PREFIX,
            "jobs_queue": JOBS_QUEUE,
            **overrides,
        }
        used: list[ServerProcess] = []
        if "mysql_uri" not in settings:
            mariadb = request.getfixturevalue("mariadb_server")
            settings["mysql_uri"] = mariadb.uri()
            used.append(mariadb)
        if "mongo_uri" not in settings:
            mongo = request.getfixturevalue("mongo_server")
            settings["mongo_uri"] = mongo.uri
            used.append(mongo)
        if "redis_url" not in settings:
            redis = request.getfixturevalue("redis_server")
            settings["redis_url"] = redis.url
            used.append(redis)
        app = create_app("testing", **settings)
        ctx = context_of(app)

        def close() -> None:
            # A server the test left paused would make closing wait on it.
            for server in used:
                if server.running and server.paused_now:
                    server.resume()
            ctx.close()

        # Registered on the test item after the server fixtures it asked for, so it runs
        # before they are killed (finalizers run last-registered first).
        request.node.addfinalizer(close)
        ctx.stores.upgrade()
        return app

    return make


def worker_environment(app) -> dict[str, str]:
    """The app's stores as ``FLASK_*`` variables, for an ``imflask-worker`` or CLI child
    process (start it with :class:`testkit.servers.Program` so it is ended too)."""
    from imflask_app.factory import context_of

    settings = context_of(app).settings
    assert settings.mongo_uri is not None  # resolved when the app was made
    assert settings.redis_url is not None
    return {
        **os.environ,
        "FLASK_CONFIG": "testing",
        "FLASK_MYSQL_URI": settings.mysql_uri,
        "FLASK_MONGO_URI": settings.mongo_uri,
        "FLASK_MONGO_DB_NAME": settings.mongo_db_name,
        **_redis_environment(settings.redis_url),
        "FLASK_REDIS_KEY_PREFIX": settings.redis_key_prefix,
        "FLASK_JOBS_QUEUE": settings.jobs_queue,
        "FLASK_STORE_CONNECT_TIMEOUT": str(settings.store_connect_timeout),
        "FLASK_STORE_READ_TIMEOUT": str(settings.store_read_timeout),
    }


def _redis_environment(url: str) -> dict[str, str]:
    """A Sentinel target as the variables a user sets (FLASK_REDIS_SENTINELS...)."""
    target = SentinelTarget.from_url(url)
    if target is None:
        return {"FLASK_REDIS_URL": url}
    return {
        "FLASK_REDIS_SENTINELS": ",".join(f"{host}:{port}" for host, port in target.sentinels),
        "FLASK_REDIS_SENTINEL_MASTER": target.service,
        "FLASK_REDIS_DB": str(target.db),
        **({"FLASK_REDIS_PW": target.password} if target.password else {}),
        **(
            {"FLASK_REDIS_SENTINEL_PW": target.sentinel_password}
            if target.sentinel_password
            else {}
        ),
    }


@pytest.fixture
def serve() -> Iterator[Callable[[object], str]]:
    """``serve(app) -> base_url``: the WSGI app in a threaded HTTP server on 127.0.0.1."""
    # Imported here: the suites that run without the web stack load this plugin too.
    from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        """No access log line per request (a load run would flood the captured output)."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    running: list[tuple[BaseWSGIServer, threading.Thread]] = []

    def start(app) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(5)
