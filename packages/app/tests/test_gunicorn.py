"""The production server settings: several gunicorn workers, one set of metrics."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        return response.status, response.read().decode()


def _start_gunicorn(env: dict[str, str]) -> subprocess.Popen:
    """gunicorn with the project's settings, in its own process group (stop it with killpg)."""
    return subprocess.Popen(
        [str(GUNICORN), "-c", str(ROOT / "gunicorn.conf.py"), "imflask_app.wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_for_health(port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if _get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_metrics_add_up_over_every_gunicorn_worker(app, store_uris, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        **store_uris.environment(),
        "FLASK_INSTANCE_PATH": str(tmp_path),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "3",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "no_proxy": "*",
    }
    (tmp_path / "metrics").mkdir()
    server = _start_gunicorn(env)
    try:
        _wait_for_health(port)
        for _ in range(30):
            assert _get(f"http://127.0.0.1:{port}/api/tags")[0] == 200

        counts = set()
        for _ in range(6):  # whichever worker answers, it reports every worker's requests
            text = _get(f"http://127.0.0.1:{port}/metrics")[1]
            match = re.search(
                r'imflask_http_requests_total\{endpoint="/api/tags",method="GET",status="200"\}'
                r" ([\d.]+)",
                text,
            )
            counts.add(float(match.group(1)))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    assert counts == {30.0}


def test_a_metrics_folder_gunicorn_made_itself_is_removed_when_it_stops(app, store_uris, tmp_path):
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        store_uris.environment(),
        FLASK_INSTANCE_PATH=str(tmp_path / "instance"),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
        TMPDIR=str(tmp_path),
        no_proxy="*",
    )
    server = _start_gunicorn(env)
    try:
        _wait_for_health(port)
        assert len(list(tmp_path.glob("imflask-metrics-*"))) == 1
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    assert list(tmp_path.glob("imflask-metrics-*")) == []
