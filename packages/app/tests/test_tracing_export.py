"""End to end: gunicorn and ``imflask-worker`` export their spans over OTLP/HTTP.

Both run as in production, configured by OTEL_* variables only, with the real
OTLP/HTTP exporter, against a receiver this test starts on 127.0.0.1 (``testkit.otlp``,
decoding with opentelemetry-proto). ``POST /api/articles`` is answered by a gunicorn
worker, which exports from its own process (started after the fork, with and without
``--preload``) and stops on SIGTERM, and queues the notification job; the worker runs
it, and its spans are in the request's trace. The JSON log lines of both carry that
trace's id.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from testkit.otlp import OtlpReceiver, ReceivedSpan

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SERVER, CONSUMER = 2, 5  # opentelemetry.proto's Span.SpanKind


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(port: int, method: str, path: str, body=None, token=None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Token {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback only
        return answer.status, json.loads(answer.read() or b"{}")


def _wait_for_health(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                return
        except OSError:
            assert server.poll() is None, "gunicorn exited"
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _sign_up(port: int, name: str) -> str:
    user = {"username": name, "email": f"{name}@conduit.test", "password": "password1"}
    return _call(port, "POST", "/api/users", {"user": user})[1]["user"]["token"]


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("preload", [False, True], ids=["workers-import-the-app", "preload"])
def test_a_request_and_the_job_it_queued_reach_the_collector_as_one_trace(
    app, store_uris, tmp_path, preload
):
    with OtlpReceiver.running() as receiver:
        port = _free_port()
        env = {
            **os.environ,
            **store_uris.environment(),
            "FLASK_INSTANCE_PATH": str(tmp_path),
            "FLASK_SECRET_KEY": "tracing-test-" * 4,  # one for both workers (testing: random)
            "FLASK_JOBS_INLINE": "0",
            "FLASK_LOG_JSON": "1",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_SERVICE_NAME": "conduit-api",
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within 0.1 s, not the default 5 s
            "no_proxy": "*",
        }
        (tmp_path / "metrics").mkdir()
        log = tmp_path / "gunicorn.log"
        command = [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")]
        command += ["--control-socket", str(tmp_path / "ctl"), *(["--preload"] * preload)]
        # A worker deaf to SIGTERM would be killed only after this; a healthy one stops at once.
        command += ["--graceful-timeout", "120"]
        with log.open("w") as errors:
            server = subprocess.Popen(
                [*command, "imflask_app.wsgi:app"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,
            )
        try:
            _wait_for_health(port, server)
            author, fan = _sign_up(port, "author"), _sign_up(port, "fan")
            _call(port, "POST", "/api/profiles/author/follow", token=fan)
            article = {"title": "Traced", "description": "d", "body": "b", "tagList": []}
            status, _ = _call(port, "POST", "/api/articles", {"article": article}, author)
            assert status == 201
            assert receiver.wait_for(lambda spans: _named(spans, "POST /api/articles")), _seen(
                receiver, log.read_text()
            )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)

        worker = subprocess.run(
            [str(BIN / "imflask-worker"), "--burst"],
            env={**env, "OTEL_SERVICE_NAME": "conduit-worker"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert worker.returncode == 0, worker.stderr
        assert receiver.wait_for(lambda spans: _named(spans, "job notify_followers")), _seen(
            receiver, worker.stderr
        )
        spans = list(receiver.spans)

    (request,) = _named(spans, "POST /api/articles")
    assert (request.service, request.kind, request.parent_span_id) == ("conduit-api", SERVER, "")
    in_trace = [s for s in spans if s.trace_id == request.trace_id]
    calls = [s for s in in_trace if s.parent_span_id == request.span_id]
    assert {s.attributes.get("db.system") for s in calls} >= {"redis"}
    (fan_out,) = _named(spans, "job notify_followers")
    assert (fan_out.service, fan_out.kind) == ("conduit-worker", CONSUMER)
    assert (fan_out.trace_id, fan_out.parent_span_id) == (request.trace_id, request.span_id)
    job_calls = [s for s in in_trace if s.parent_span_id == fan_out.span_id]
    assert "mongodb" in {s.attributes.get("db.system") for s in job_calls}  # the fan's notice

    request_lines = [
        line for line in _json_lines(log.read_text()) if line.get("path") == "/api/articles"
    ]
    assert [line.get("trace_id") for line in request_lines] == [request.trace_id]
    job_lines = [line for line in _json_lines(worker.stderr) if "notifications" in line["message"]]
    assert job_lines
    assert {line.get("trace_id") for line in job_lines} == {request.trace_id}


def _seen(receiver: OtlpReceiver, log: str) -> str:
    """What arrived, and the end of the process's log: what a failure needs to be read."""
    names = sorted({f"{s.service}: {s.name}" for s in receiver.spans if s.kind != 3})
    return f"{receiver.requests} exports, spans {names}; log:\n{log[-3000:]}"


def _named(spans: list[ReceivedSpan], name: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.name == name]
