"""The fault suite's harness itself: real server processes killed, paused and restarted."""

from __future__ import annotations

import os
import socket
import sys
import time

import pymysql
import pytest
import redis

from imflask_app.factory import context_of
from testkit import servers
from testkit.fixtures import worker_environment
from testkit.load import Outcome, by_status, http, p99, run_load, slowest, summary
from testkit.servers import MariaDbServer, Program, RedisServer, ServerStartError

pytestmark = pytest.mark.faults


# MariaDB ----------------------------------------------------------------------------


def test_a_killed_mariadb_refuses_connections_and_keeps_a_committed_row(mariadb_server):
    # given a committed row
    with mariadb_server.connect() as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(20))")
        cursor.execute("INSERT INTO notes VALUES (1, 'kept')")
        conn.commit()
    port = mariadb_server.port

    # when the server is killed
    mariadb_server.kill()

    # then nothing answers on its port
    assert mariadb_server.pid is None
    with pytest.raises(pymysql.err.OperationalError) as refused:
        mariadb_server.connect(connect_timeout=1)
    assert refused.value.args[0] == 2003

    # and after a restart on the same port the row is there
    mariadb_server.restart()
    assert mariadb_server.port == port
    with mariadb_server.connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT body FROM notes WHERE id = 1")
        assert cursor.fetchone() == ("kept",)


def test_mariadb_has_the_database_in_utf8mb4_bin_and_no_anonymous_users(mariadb_server):
    with mariadb_server.connect() as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
            "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'imflask'"
        )
        assert cursor.fetchone() == ("utf8mb4", "utf8mb4_bin")
        cursor.execute("SELECT COUNT(*) FROM mysql.global_priv WHERE user = ''")
        assert cursor.fetchone() == (0,)
    assert mariadb_server.uri() == f"mysql://root@127.0.0.1:{mariadb_server.port}/imflask"


def test_a_paused_mariadb_answers_again_after_the_block(mariadb_server):
    with mariadb_server.paused(), pytest.raises(pymysql.err.OperationalError):
        mariadb_server.connect(connect_timeout=0.5, read_timeout=0.5)
    with mariadb_server.connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


# Redis ------------------------------------------------------------------------------


def test_a_paused_redis_times_out_a_client_and_answers_after_resume(redis_server):
    client = redis_server.client(socket_timeout=0.5)
    client.set("k", "v")

    with redis_server.paused():
        began = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            client.get("k")
        waited = time.monotonic() - began

    assert 0.4 < waited < 1.5
    assert client.get("k") == b"v"
    client.close()


def test_a_killed_redis_without_persistence_comes_back_empty(redis_server):
    client = redis_server.client()
    client.set("k", "v")

    with redis_server.down(), pytest.raises(redis.ConnectionError):
        client.ping()

    assert client.dbsize() == 0
    client.close()


def test_a_killed_redis_with_persistence_keeps_its_keys(tmp_path):
    server = RedisServer(data_dir=tmp_path, persistence=True).start()
    try:
        client = server.client()
        client.set("k", "v")
        server.kill()
        server.restart()
        assert client.get("k") == b"v"
        client.close()
    finally:
        server.kill()


def test_a_stopped_paused_server_ends_gracefully(tmp_path):
    server = RedisServer(data_dir=tmp_path).start()
    server.pause()
    server.stop()
    assert server.pid is None
    assert "ready to exit" in server.log_tail() or "Bye" in server.log_tail()


def test_a_server_moves_to_another_port_when_its_port_was_taken_before_the_first_start(tmp_path):
    server = RedisServer(data_dir=tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", server.port))
        taken.listen()
        try:
            server.start()
            assert server.port != taken.getsockname()[1]
            assert server.client().ping()
        finally:
            server.kill()


def test_a_server_that_cannot_start_raises_with_its_log(tmp_path):
    server = RedisServer(data_dir=tmp_path, args=["--no-such-option", "1"])
    with pytest.raises(ServerStartError, match="no-such-option"):
        server.start(timeout=5)
    assert server.pid is None


# MongoDB-wire -----------------------------------------------------------------------


def test_a_killed_mongo_server_keeps_an_acknowledged_document(mongo_server):
    with mongo_server.client() as client:
        client.imflask.notes.insert_one({"_id": 1, "body": "kept"})

    mongo_server.kill()
    assert mongo_server.pid is None
    mongo_server.restart()

    with mongo_server.client() as client:
        assert client.imflask.notes.find_one({"_id": 1}) == {"_id": 1, "body": "kept"}


# The app over real HTTP -------------------------------------------------------------


def test_a_served_fault_app_is_ready_and_503_for_redis_while_redis_is_paused(
    fault_app, serve, redis_server
):
    base_url = serve(fault_app())

    ready = http(base_url, "GET", "/readyz")
    assert (ready.status, ready.body) == (200, {"mysql": "ok", "mongo": "ok", "redis": "ok"})

    with redis_server.paused():
        paused = http(base_url, "GET", "/readyz", timeout=5)

    assert paused.status == 503
    assert paused.body == {"mysql": "ok", "mongo": "ok", "redis": "down"}
    assert http(base_url, "GET", "/readyz").status == 200


def test_fault_app_starts_only_the_servers_it_needs(fault_app, monkeypatch, tmp_path):
    monkeypatch.setattr(MariaDbServer, "start", lambda *a, **k: pytest.fail("MariaDB was started"))
    sqlite_uri = f"sqlite:///{tmp_path / 'app.sqlite3'}"

    app = fault_app(mysql_uri=sqlite_uri, store_read_timeout=0.8)

    assert context_of(app).settings.store_read_timeout == 0.8
    assert context_of(app).settings.store_connect_timeout == 0.5
    with app.test_client() as client:
        assert client.get("/readyz").status_code == 200
    env = worker_environment(app)
    assert env["FLASK_MYSQL_URI"] == sqlite_uri
    assert env["FLASK_REDIS_URL"].startswith("redis://127.0.0.1:")
    assert env["FLASK_JOBS_QUEUE"] == "imflask_faults"


# The load generator -----------------------------------------------------------------


def test_run_load_stops_at_count_and_numbers_every_call():
    outcomes = run_load(lambda i: (200, {"i": i}), threads=4, count=50, seconds=10)

    assert sorted(o.index for o in outcomes) == list(range(50))
    assert all(o.body == {"i": o.index} for o in outcomes)
    assert by_status(outcomes) == {200: 50}


def test_run_load_stops_at_its_deadline_and_records_exceptions():
    def send(i: int) -> tuple:
        time.sleep(0.05)
        if i % 2:
            raise ConnectionError("refused")
        return (201, None)

    began = time.monotonic()
    outcomes = run_load(send, threads=2, seconds=0.5)

    assert time.monotonic() - began < 1.0
    assert 10 <= len(outcomes) <= 24
    assert by_status(outcomes)["error"] == sum(1 for o in outcomes if o.index % 2)
    assert "ConnectionError: refused" in summary(outcomes)
    assert slowest(outcomes, 1)[0].elapsed == max(o.elapsed for o in outcomes)
    assert p99(outcomes) <= slowest(outcomes, 1)[0].elapsed


def test_http_records_a_refused_connection_instead_of_raising():
    outcome = http(f"http://127.0.0.1:{servers.free_port()}", "GET", "/healthz", timeout=1)

    assert isinstance(outcome, Outcome)
    assert outcome.status is None
    assert "ConnectionRefusedError" in outcome.error


def test_a_program_listening_on_a_port_is_ready_once_it_accepts_and_is_killed(tmp_path):
    port = servers.free_port()
    program = Program(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        port=port,
        data_dir=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ).start()
    try:
        assert http(f"http://127.0.0.1:{port}", "GET", "/").status == 200
        with program.paused():
            assert http(f"http://127.0.0.1:{port}", "GET", "/", timeout=0.3).error
    finally:
        program.kill()
    assert "ConnectionRefusedError" in http(f"http://127.0.0.1:{port}", "GET", "/").error


def test_the_safety_net_kills_what_is_still_alive(tmp_path):
    server = RedisServer(data_dir=tmp_path).start()
    server.pause()
    pid = server.pid

    servers.kill_everything()

    assert server._process.poll() is not None
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_serve_answers_concurrent_requests_over_real_http(serve):
    def app(environ, start_response):
        time.sleep(0.1)  # overlapping requests show the server is threaded
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"path": "%s"}' % environ["PATH_INFO"].encode()]

    base_url = serve(app)
    began = time.monotonic()
    outcomes = run_load(lambda i: http(base_url, "GET", f"/{i}"), threads=8, count=40)

    assert by_status(outcomes) == {200: 40}, summary(outcomes)
    assert all(o.body == {"path": f"/{o.index}"} for o in outcomes)
    assert time.monotonic() - began < 40 * 0.1 / 2
