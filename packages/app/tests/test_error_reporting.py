"""Error reporting to Sentry: the real SDK in a real gunicorn worker, sending to a receiver
on 127.0.0.1 (testkit/sentry_receiver.py); nothing secret in what it sends."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from testkit.process import free_port
from testkit.sentry_receiver import SentryReceiver

ROOT = Path(__file__).resolve().parents[3]
GUNICORN = Path(sys.executable).parent / "gunicorn"
BROKEN_APP = "sentry_test_wsgi:app"  # PUT /api/user raises in its use case

SECRET_KEY = "sentry-test-signing-key-" + "k" * 24
PASSWORD = "Pa55word-of-the-sign-up"
NEW_PASSWORD = "Pa55word-the-request-sends"


def call(
    url: str, method: str = "GET", body: dict | None = None, **headers: str
) -> tuple[int, dict, dict]:
    """(status, headers, JSON answer) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    request.add_header("Content-Type", "application/json")
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
            return answer.status, dict(answer.headers), json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


@pytest.fixture
def control_socket() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="imflask-sentry-"))
    yield folder / "gunicorn.ctl"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def reporting_app(app, store_uris, tmp_path, control_socket):
    """``(base_url, receiver, stop)``: the broken app under gunicorn reporting to a receiver."""
    port = free_port()
    with SentryReceiver() as receiver:
        env = {
            **os.environ,
            **store_uris.environment(),
            "FLASK_SECRET_KEY": SECRET_KEY,
            "FLASK_SENTRY_DSN": receiver.dsn,
            "FLASK_INSTANCE_PATH": str(tmp_path),
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
            "PYTHONPATH": str(Path(__file__).parent),
            "no_proxy": "*",
        }
        server = subprocess.Popen(
            [
                str(GUNICORN),
                "-c",
                "gunicorn.conf.py",
                "--control-socket",
                str(control_socket),
                BROKEN_APP,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

        def stop() -> str:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
            _, stderr = server.communicate(timeout=60)
            return stderr.decode(errors="replace")

        try:
            base = f"http://127.0.0.1:{port}"
            _wait_for_health(base, server)
            yield base, receiver, stop
        finally:
            stop()


def _wait_for_health(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if call(f"{base}/healthz")[0] == 200:
                return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_an_unhandled_error_in_a_request_reaches_sentry_without_a_secret(reporting_app):
    base, receiver, stop = reporting_app
    status, headers, answer = call(
        f"{base}/api/users",
        "POST",
        {"user": {"username": "jake", "email": "jake@jake.jake", "password": PASSWORD}},
    )
    assert status == 201, answer
    token = answer["user"]["token"]
    refresh = SimpleCookie(headers["Set-Cookie"])["refresh_token"].value
    # answers the API gives on purpose are no errors to report
    assert call(f"{base}/api/articles/no-such-article")[0] == 404
    assert call(f"{base}/api/users", "POST", {"user": {"password": PASSWORD}})[0] == 422

    status, headers, answer = call(
        f"{base}/api/user?access_token={token}&page=2",
        "PUT",
        {"user": {"password": NEW_PASSWORD}},
        Authorization=f"Token {token}",
        Cookie=f"refresh_token={refresh}; session={refresh}",
        X_Request_ID="sentry-test-1",
    )

    # the client still gets the clean JSON 500
    assert status == 500
    assert answer == {"errors": {"server": ["failed unexpectedly; the error was logged"]}}
    assert headers["Content-Type"] == "application/json"
    (event,) = receiver.wait_for_events(1)
    logs = stop()  # and what the SDK sends as the worker exits
    assert receiver.errors == []
    (error,) = event["exception"]["values"]
    assert error["type"] == "RuntimeError"
    assert error["value"].startswith("update_account broke for user ")
    assert event["level"] == "error"
    assert event["environment"] == "testing"
    assert event["tags"]["request_id"] == "sentry-test-1"
    request = event["request"]  # from the Flask integration
    assert request["method"] == "PUT"
    assert request["url"] == f"{base}/api/user"
    assert request["query_string"] == "access_token=[redacted]&page=2"
    assert request.get("data", "[redacted]") == "[redacted]"  # the body is never read
    assert request.get("cookies", "[redacted]") == "[redacted]"
    named = {name.lower() for name in request["headers"]}
    assert "x-request-id" in named
    assert not named & {"authorization", "cookie"}
    assert all("vars" not in frame for frame in error["stacktrace"]["frames"])
    sent = receiver.everything()
    for secret in (PASSWORD, NEW_PASSWORD, token, token.rsplit(".")[-1], refresh, SECRET_KEY):
        assert secret.encode() not in sent, (secret, logs)
    assert len(receiver.events()) == 1  # the 404 and the 422 were not reported


def test_without_a_dsn_the_app_never_imports_sentry(app, store_uris, tmp_path):
    code = """
import json, sys
from imflask_app import create_app
app = create_app()
client = app.test_client()
answers = [client.get("/readyz").status_code, client.get("/api/articles/nope").status_code]
print(json.dumps({"answers": answers, "sentry": "sentry_sdk" in sys.modules}))
"""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SENTRY_")}
    env.update(store_uris.environment(), FLASK_INSTANCE_PATH=str(tmp_path))
    env.pop("FLASK_SENTRY_DSN", None)

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env
    )

    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"answers": [200, 404], "sentry": False}
