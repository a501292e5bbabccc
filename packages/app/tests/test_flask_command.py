"""The real ``flask`` command starts only what a command needs, and says plainly why not.

Each test runs it in its own folder with its own instance path (never the
developer's ``instance/`` or ``.env``), in development unless it says otherwise.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from imflask_core import embedded

FLASK = Path(sys.executable).parent / "flask"


@pytest.fixture
def instance(tmp_path):
    """A fresh instance folder; whatever a test started in it is stopped afterwards."""
    path = tmp_path / "instance"
    yield path
    embedded.stop(path)


def flask_env(instance: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    return {
        **env,
        "FLASK_APP": "imflask_app:create_app",
        "FLASK_INSTANCE_PATH": str(instance),
        **extra,
    }


def flask(instance: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FLASK), *args],
        cwd=instance.parent,  # no .env, no .flaskenv
        env=flask_env(instance, **extra_env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def processes_using(path: Path) -> list[str]:
    """Command lines of the processes naming ``path`` (the embedded daemons name their data)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(str(path).encode() in arg for arg in argv):
            found.append(b" ".join(argv).decode(errors="replace"))
    return found


def assert_nothing_started(instance: Path) -> None:
    assert not (instance / "embedded").exists(), "an embedded store was started"
    assert processes_using(instance) == []
    assert not (instance / "imflask.sqlite3").exists(), "the schema was migrated"


@pytest.mark.parametrize(
    "args",
    [["--help"], ["db", "--help"], ["routes"], ["db", "status"], ["embedded", "status"]],
)
def test_commands_that_need_no_store_start_none(instance, args):
    result = flask(instance, *args)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert not (instance / "embedded").exists(), "an embedded store was started"
    assert processes_using(instance) == []


def test_help_lists_the_apps_commands_and_starts_nothing(instance):
    result = flask(instance, "--help")

    assert result.returncode == 0, result.stderr
    for command in ("db", "embedded", "jobs", "routes", "run"):
        assert f"\n  {command} " in result.stdout
    assert_nothing_started(instance)


def test_embedded_status_says_not_running_when_nothing_runs(instance):
    result = flask(instance, "embedded", "status")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n") == ["mongo  not running", "redis  not running", ""]
    assert_nothing_started(instance)


def test_embedded_stop_with_nothing_running_starts_nothing(instance):
    result = flask(instance, "embedded", "stop")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "stopped: nothing was running\n"
    assert_nothing_started(instance)


def test_db_upgrade_on_a_fresh_instance_lists_the_migrations_it_applied(instance):
    pending = [
        line.removeprefix("pending  ")
        for line in flask(instance, "db", "status").stdout.splitlines()
        if line.startswith("pending  ")
    ]

    first = flask(instance, "db", "upgrade")
    again = flask(instance, "db", "upgrade")

    assert pending, "a fresh instance has every migration pending"
    assert first.returncode == 0, first.stderr
    assert f"SQL migrations applied: {', '.join(pending)}\n" in first.stdout
    assert "SQL migrations applied: none pending\n" in again.stdout
    assert embedded.status(instance)["mongo"] != "not running"  # the indexes need Mongo


@pytest.mark.parametrize(
    "args", [["run"], ["db", "upgrade"], ["embedded", "status"], ["routes"], ["nosuch"]]
)
def test_production_without_configuration_prints_the_refusal_alone(instance, args):
    result = flask(instance, *args, FLASK_CONFIG="production")

    assert result.returncode == 2
    assert result.stderr.startswith(
        "Error: production refuses to start on development defaults:\n"
        "  - FLASK_SECRET_KEY is not set"
    )
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) < 12
    assert_nothing_started(instance)


def test_help_with_a_configuration_error_shows_it_above_the_help(instance):
    result = flask(instance, "--help", FLASK_CONFIG="staging")

    assert result.stdout.startswith("Usage: flask")
    assert "Error: FLASK_CONFIG='staging' is not one of" in result.stderr
    assert "Traceback" not in result.stderr
    assert "\n  embedded " in result.stdout


def test_an_app_the_flask_command_built_without_stores_starts_them_on_its_first_request(
    instance,
):
    script = "print(app.test_client().get('/api/tags').get_json())\n"

    result = subprocess.run(
        [str(FLASK), "shell"],
        input=script,
        cwd=instance.parent,
        env=flask_env(instance),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert "{'tags': []}" in result.stdout, result.stderr
    assert embedded.status(instance)["redis"] != "not running"


def test_flask_run_serves_everything_on_the_embedded_stores_with_no_configuration(instance):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(FLASK), "run", "--port", str(port)],
        cwd=instance.parent,
        env=flask_env(instance),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = _get_when_listening(f"http://127.0.0.1:{port}/readyz", server)
        tags = _get(f"http://127.0.0.1:{port}/api/tags")
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=20)

    assert ready == {"mysql": "ok", "mongo": "ok", "redis": "ok"}, stderr
    assert tags == {"tags": []}
    assert "applied migrations" in stderr


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a local URL
        return json.load(response)


def _get_when_listening(url: str, server: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"flask run exited: {server.communicate()[1]}")
        try:
            return _get(url)
        except urllib.error.URLError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered at {url}")


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.c2lnbmF0dXJlLW9mLWEtdG9rZW4"
FORGED = "2026-01-01 00:00:00,000 INFO imflask [-] forged"
FORGED_IN_URL = FORGED.replace(" ", "%20")


def test_the_dev_servers_log_keeps_tokens_out_and_one_line_per_record(instance, store_uris):
    # given flask run in development on this run's stores
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = flask_env(instance, **{**store_uris.environment(), "FLASK_CONFIG": "development"})
    server = subprocess.Popen(
        [str(FLASK), "run", "--port", str(port)],
        cwd=instance.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _get_when_listening(f"http://127.0.0.1:{port}/healthz", server)

        # when tokens come in query strings and a path carries a forged line
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for target in (
            f"/api/tags?access_token={JWT}&limit=5",
            f"/api/tags?t={JWT}",
            "/api/tags?api_key=not-a-jwt-secret&sig=s3cr3t&tag=dragons",
            f"/nowhere%0a{FORGED_IN_URL}%0d%1b[2J",
        ):
            connection.request("GET", target)
            connection.getresponse().read()
        connection.close()
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=20)

    # then no token is in the log, harmless parameters are, and each record is one line
    for secret in (JWT, "not-a-jwt-secret", "s3cr3t"):
        assert secret not in stderr
    assert "access_token=[redacted]&limit=5" in stderr
    assert "api_key=[redacted]&sig=[redacted]&tag=dragons" in stderr
    assert "\x1b" not in stderr  # werkzeug's colours too
    lines = stderr.splitlines()
    assert not [line for line in lines if line.startswith(FORGED)]
    assert any(f"GET /nowhere\\x0a{FORGED}\\x0d\\x1b[2J 404" in line for line in lines), stderr
