"""The production server settings: several gunicorn workers, one set of metrics."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from imflask_app.web.templating import CONTENT_SECURITY_POLICY
from testkit.bodies import post_body, registration

ROOT = Path(__file__).resolve().parents[3]
GUNICORN = Path(sys.executable).parent / "gunicorn"


@pytest.fixture
def control_socket() -> Iterator[Path]:
    """A control socket path of this test's own, short enough for a unix socket (108 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="imflask-gunicorn-"))
    yield folder / "gunicorn.ctl"
    shutil.rmtree(folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        return response.status, response.read().decode()


def _start_gunicorn(
    env: dict[str, str], control_socket: Path, app: str = "imflask_app.wsgi:app"
) -> subprocess.Popen:
    """gunicorn with the project's settings, in its own process group (stop it with killpg).

    Each gunicorn gets its own control socket: the default path is one per user, shared by
    every gunicorn started on the machine.
    """
    return subprocess.Popen(
        [
            str(GUNICORN),
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--control-socket",
            str(control_socket),
            app,
        ],
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


def test_metrics_add_up_over_every_gunicorn_worker(app, store_uris, tmp_path, control_socket):
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
    server = _start_gunicorn(env, control_socket)
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


def test_a_metrics_folder_gunicorn_made_itself_is_removed_when_it_stops(
    app, store_uris, tmp_path, control_socket
):
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
    server = _start_gunicorn(env, control_socket)
    try:
        _wait_for_health(port)
        assert len(list(tmp_path.glob("imflask-metrics-*"))) == 1
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    assert list(tmp_path.glob("imflask-metrics-*")) == []


# --- signals: SIGTERM drains, SIGHUP overlaps ----------------------------------------------

TEST_WSGI = "gunicorn_test_wsgi:app"  # the real app, with X-Test-Delay and X-Test-Worker


def _signal_test_env(store_uris, tmp_path: Path, port: int, workers: int) -> dict[str, str]:
    (tmp_path / "metrics").mkdir()
    return {
        **os.environ,
        **store_uris.environment(),
        "FLASK_INSTANCE_PATH": str(tmp_path),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "PYTHONPATH": str(Path(__file__).parent),
        "no_proxy": "*",
    }


def _stop(server: subprocess.Popen) -> None:
    """End what a test left running: the master and any worker of its process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=10)


def _read_response(sock: socket.socket) -> str:
    """The status of a complete response, else what went wrong: reset, empty, truncated.

    Closes the socket once read, as an HTTP client does (gunicorn lingers up to 2 s after a
    response until the client closes).
    """
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        return "timeout"
    finally:
        sock.close()
    head, separator, body = data.partition(b"\r\n\r\n")
    if not data:
        return "empty"
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if not separator or length is None or len(body) != int(length.group(1)):
        return "truncated"
    return head.split(b" ", 2)[1].decode()


@pytest.mark.faults
def test_sigterm_answers_every_request_sent_before_it(app, store_uris, tmp_path, control_socket):
    # given two workers and requests that take 0.4 s: two in flight, ten in the accept queue
    port = _free_port()
    server = _start_gunicorn(
        _signal_test_env(store_uris, tmp_path, port, workers=2), control_socket, TEST_WSGI
    )
    request = (
        b"GET /api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"X-Test-Delay: 0.4\r\nConnection: close\r\n\r\n"
    )
    connections = []
    try:
        _wait_for_health(port)
        for _ in range(12):
            connection = socket.create_connection(("127.0.0.1", port), timeout=30)
            connection.sendall(request)
            connections.append(connection)
        time.sleep(0.2)

        # when the server is told to stop
        os.kill(server.pid, signal.SIGTERM)
        outcomes = [_read_response(connection) for connection in connections]
        exit_code = server.wait(timeout=40)
    finally:
        for connection in connections:
            connection.close()
        _stop(server)

    # then every request sent before the signal got its whole answer, and gunicorn exited
    assert Counter(outcomes) == {"200": 12}
    assert exit_code == 0


class _SteadyLoad:
    """A few clients, each sending one request at a time with a short pause, bounded in count
    and time; records (latency, outcome, answering pid) of every request."""

    def __init__(self, port: int, clients: int = 3, pause: float = 0.02, limit: int = 2000):
        self.port, self.pause, self.limit = port, pause, limit
        self.results: list[tuple[float, str, str]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(clients)]

    def __enter__(self) -> _SteadyLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def answering_pids(self) -> set[str]:
        return {pid for _, outcome, pid in list(self.results) if outcome == "200"}

    def _client(self) -> None:
        for _ in range(self.limit):
            if self._stop.is_set():
                return
            started = time.monotonic()
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
            try:
                connection.request("GET", "/api/tags")
                response = connection.getresponse()
                response.read()
                outcome, pid = str(response.status), response.getheader("X-Test-Worker", "")
            except (OSError, http.client.HTTPException) as error:
                outcome, pid = type(error).__name__, ""
            finally:
                connection.close()
            self.results.append((time.monotonic() - started, outcome, pid))
            time.sleep(self.pause)


def _wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.faults
def test_a_reload_keeps_answering_while_new_workers_import_the_app(
    app, store_uris, tmp_path, control_socket
):
    # given two workers under a steady load, and new code that needs 4 s more to import
    port = _free_port()
    delay_file = tmp_path / "import-delay"
    env = _signal_test_env(store_uris, tmp_path, port, workers=2)
    env["IMFLASK_TEST_IMPORT_DELAY_FILE"] = str(delay_file)
    server = _start_gunicorn(env, control_socket, TEST_WSGI)
    try:
        _wait_for_health(port)
        with _SteadyLoad(port) as load:
            assert _wait_until(lambda: len(load.answering_pids()) == 2, 10)
            old_workers = load.answering_pids()
            delay_file.write_text("4")

            # when gunicorn is told to reload
            os.kill(server.pid, signal.SIGHUP)
            new_workers_answer = _wait_until(
                lambda: len(load.answering_pids() - old_workers) == 2, 30
            )
            old_workers_gone = _wait_until(
                lambda: {pid for _, _, pid in load.results[-10:]}.isdisjoint(old_workers), 10
            )
    finally:
        _stop(server)

    # then the new workers took over, and no request failed or waited for them
    assert new_workers_answer
    assert old_workers_gone
    assert Counter(outcome for _, outcome, _ in load.results).keys() == {"200"}
    assert max(latency for latency, _, _ in load.results) < 2.0


# --- request bodies: the limit holds however they are framed -------------------------------


def test_gunicorn_answers_413_to_every_body_over_the_limit_however_framed(
    app, store_uris, tmp_path, control_socket
):
    # given gunicorn with the project's settings and the default 1 MiB limit
    port = _free_port()
    server = _start_gunicorn(
        _signal_test_env(store_uris, tmp_path, port, workers=1), control_socket
    )
    limit = 1024 * 1024
    sizes = (32 * limit, 3 * limit, limit + 1, limit, limit // 2)
    outcomes: dict[tuple[int, bool], object] = {}
    try:
        _wait_for_health(port)

        # when registrations over, at and under the limit are sent in chunks and with a length
        # by a client that reads the answer only once it has sent the whole body
        for size in sizes:
            for chunked in (True, False):
                body = registration(f"u{size}{'c' if chunked else 'l'}", size=size)
                try:
                    outcomes[size, chunked] = post_body(
                        f"http://127.0.0.1:{port}", "/api/users", body, chunked=chunked
                    )[0]
                except OSError as error:  # a broken pipe: gunicorn stopped reading and closed
                    outcomes[size, chunked] = repr(error)
    finally:
        _stop(server)

    # then over the limit is a 413 the client reads, whatever the framing; the rest is read whole
    assert outcomes == {
        (size, chunked): 413 if size > limit else 201 for size in sizes for chunked in (True, False)
    }


def test_gunicorns_own_error_pages_carry_the_page_policy(app, store_uris, tmp_path, control_socket):
    # given gunicorn with the project's configuration
    port = _free_port()
    server = _start_gunicorn(
        _signal_test_env(store_uris, tmp_path, port, workers=1), control_socket
    )
    answers = []
    try:
        _wait_for_health(port)

        # when requests it cannot parse are sent (they never reach the app)
        for raw in (b"NOT A REQUEST\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(raw)
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            answers.append(data)
    finally:
        _stop(server)

    # then each HTML error page has the pages' strict policy, as every page of the app does
    for data in answers:
        head = data.partition(b"\r\n\r\n")[0].decode("latin1")
        assert head.startswith("HTTP/1.1 400 "), head
        assert "Content-Type: text/html" in head
        assert f"Content-Security-Policy: {CONTENT_SECURITY_POLICY}" in head.splitlines(), head
