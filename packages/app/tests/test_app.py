"""The composition root: create_app, the CLI, readiness and recovery of real stores."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest

from imflask_app import create_app
from imflask_app.factory import context_of
from imflask_core import embedded
from imflask_core.errors import ConfigError


def test_readyz_reports_every_store_ok(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {"mysql": "ok", "mongo": "ok", "redis": "ok"}


def test_production_refuses_to_start_on_defaults(monkeypatch, tmp_path):
    for name in (
        "FLASK_SECRET_KEY",
        "FLASK_MYSQL_URI",
        "FLASK_MONGO_URI",
        "FLASK_REDIS_URL",
        "FLASK_REDIS_HOST",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLASK_CONFIG", "production")
    monkeypatch.setenv("FLASK_INSTANCE_PATH", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env of the developer's

    with pytest.raises(ConfigError, match="production refuses to start"):
        create_app()


def test_overrides_replace_settings_by_name(make_app):
    app = make_app(access_token_ttl=5, max_content_length=1234)

    assert app.config["MAX_CONTENT_LENGTH"] == 1234
    assert app.extensions["imflask.settings"].access_token_ttl == 5


def test_db_upgrade_and_status_are_idempotent(app):
    runner = app.test_cli_runner()

    first = runner.invoke(args=["db", "upgrade"])
    second = runner.invoke(args=["db", "upgrade"])
    status = runner.invoke(args=["db", "status"])

    assert first.exit_code == 0, first.output
    assert "none pending" in second.output
    assert "applied  0001.users" in status.output
    assert "pending" not in status.output.replace("applied", "")


def test_db_upgrade_on_an_unreachable_store_fails_with_a_message(make_app):
    app = make_app(
        mongo_uri="mongodb://127.0.0.1:1/?directConnection=true", store_connect_timeout=0.5
    )

    result = app.test_cli_runner().invoke(args=["db", "upgrade"])

    assert result.exit_code != 0
    assert "mongo is unavailable" in result.output


def test_a_fresh_development_app_creates_its_schema(tmp_path, store_uris):
    app = create_app(
        "testing",
        mysql_uri=f"sqlite:///{tmp_path / 'new.sqlite3'}",
        mongo_uri=store_uris.mongo_uri,
        mongo_db_name=store_uris.mongo_db_name,
        redis_url=store_uris.redis_url,
        redis_key_prefix=store_uris.redis_key_prefix,
        auto_migrate=True,
    )

    response = app.test_client().post(
        "/api/users", json={"user": {"username": "a", "email": "a@b.co", "password": "12345678"}}
    )

    assert response.status_code == 201
    context_of(app).close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


class Server:
    """A real store process the test can stop and start again on the same port."""

    def __init__(self, kind: embedded.EmbeddedServer, folder):
        self.kind, self.folder, self.port = kind, folder, _free_port()
        (folder / "data").mkdir(parents=True, exist_ok=True)
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            self.kind.command(self.folder, self.port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(self.port)

    def stop(self):
        self.process.kill()
        self.process.wait(timeout=20)

    @property
    def uri(self) -> str:
        return self.kind.uri_template.format(port=self.port)


@pytest.mark.parametrize("kind", [embedded.REDIS, embedded.MONGO], ids=["redis", "mongo"])
def test_a_store_going_down_is_reported_and_recovered_without_restart(make_app, tmp_path, kind):
    server = Server(kind, tmp_path)
    server.start()
    uri_setting = {"redis": "redis_url", "mongo": "mongo_uri"}[kind.name]
    app = make_app(**{uri_setting: server.uri}, store_connect_timeout=0.5, store_read_timeout=0.5)
    client = app.test_client()
    try:
        assert client.get("/readyz").status_code == 200

        server.stop()
        started = time.monotonic()
        down = client.get("/readyz")
        waited = time.monotonic() - started

        server.start()
        recovered = client.get("/readyz")
    finally:
        server.stop()

    assert down.status_code == 503
    assert down.get_json()[kind.name] == "down"
    assert down.get_json()["mysql"] == "ok"
    assert waited < 5  # bounded by the store timeouts, never a hang
    assert client.get("/healthz").status_code == 200
    assert recovered.status_code == 200, recovered.get_json()


def test_lists_read_from_a_replica_when_one_is_configured(make_app, store_uris, client):
    token = client.post(
        "/api/users", json={"user": {"username": "a", "email": "a@b.co", "password": "12345678"}}
    ).get_json()["user"]["token"]
    client.post(
        "/api/articles",
        headers={"Authorization": f"Token {token}"},
        json={"article": {"title": "t", "description": "d", "body": "b"}},
    )
    app = make_app(mysql_replica_uri=store_uris.mysql_uri)  # the same data stands in for one
    stores = context_of(app).stores

    listed = app.test_client().get("/api/articles")
    ready = app.test_client().get("/readyz")

    assert [replica.name for replica in stores.replicas.replicas] == ["mysql_replica"]
    assert listed.get_json()["articlesCount"] == 1
    assert ready.get_json()["mysql_replica"] == "ok"


def test_an_unreachable_replica_is_degraded_and_lists_come_from_the_primary(make_app):
    app = make_app(mysql_replica_uri="mysql://root@127.0.0.1:1/replica", store_connect_timeout=0.3)
    client = app.test_client()

    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["mysql_replica"] == "degraded"
    assert client.get("/api/articles").status_code == 200
    assert (
        client.post(
            "/api/users",
            json={"user": {"username": "a", "email": "a@b.co", "password": "12345678"}},
        ).status_code
        == 201
    )
