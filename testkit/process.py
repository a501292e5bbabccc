"""One server process on a free port: start, kill, pause, resume, stop, restart.

Each process runs in its own process group, with its data and its log
(``server.log``) in its own folder, and is recorded so that an ``atexit``
safety net resumes and kills whatever is still alive when the test run ends.
:mod:`testkit.servers` builds the MariaDB, Redis and MongoDB-wire servers on
this; :class:`Program` runs any other command (a worker, gunicorn) the same way.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Self

HOST = "127.0.0.1"
LOG_NAME = "server.log"
STOP_GRACE_SECONDS = 10.0
PORT_ATTEMPTS = 3
PAUSE_SETTLE_SECONDS = 2.0

# pid -> process, and the temporary folders made here: for the atexit safety net.
_LIVE: dict[int, subprocess.Popen] = {}
_LIVE_LOCK = threading.Lock()
_TEMPORARY: list[Path] = []


class ServerStartError(RuntimeError):
    """A server process exited or did not answer in time; the message ends with its log."""


class _PortTaken(ServerStartError):
    """The port was free when chosen and taken by someone else before the server bound it."""


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
        env: Mapping[str, str] | None = None,
    ):
        self.port = port or free_port()
        self._may_move = port is None  # see start()
        if data_dir is None:
            data_dir = temporary_folder(f"imflask-{self.name}-")
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.args = tuple(args)
        self.env = dict(env) if env is not None else None  # None: this process's environment
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
        """Spawn the process and wait until a client round trip succeeds.

        On its very first start a server whose port was chosen here moves to another
        free port if something else took that one in the meantime.
        """
        if self.running:
            raise RuntimeError(f"{self!r} is already running")
        if not self._prepared:
            self.prepare()
            self._prepared = True
        for attempt in range(PORT_ATTEMPTS):
            try:
                self._start_once(timeout)
                break
            except _PortTaken:
                if not self._may_move or attempt == PORT_ATTEMPTS - 1:
                    raise
                self.port = free_port()
        self._may_move = False
        return self

    def _start_once(self, timeout: float) -> None:
        began = time.monotonic()
        with self.log_path.open("ab") as log:
            log_start = log.tell()
            log.write(f"--- {time.strftime('%H:%M:%S')} start: {self.command()}\n".encode())
            log.flush()
            process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                env=self.env,
                start_new_session=True,  # its own process group: signals reach its children
            )
        self._process = process
        self.paused_now = False
        with _LIVE_LOCK:
            _LIVE[process.pid] = process
        try:
            self._wait_ready(process, began + timeout, timeout)
        except ServerStartError as error:
            if self._port_was_taken(log_start):
                raise _PortTaken(str(error)) from error
            raise
        self.last_start_seconds = time.monotonic() - began

    def _port_was_taken(self, log_start: int) -> bool:
        with self.log_path.open("rb") as log:
            log.seek(log_start)
            text = log.read().decode(errors="replace")
        return "already in use" in text or "Errno 98" in text

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
        """SIGSTOP: the port still accepts connections (the kernel queues them), nothing answers.

        Returns once every thread of the process is stopped: the signal is delivered
        asynchronously, and a thread woken by a request could otherwise still answer it.
        """
        process = self._require_running()
        self._signal(process, signal.SIGSTOP)
        self.paused_now = True
        _wait_stopped(process.pid, PAUSE_SETTLE_SECONDS)

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


class Program(ServerProcess):
    """Any other long-running command (``imflask-worker``, gunicorn) with the same controls.

    Ready when ``ready()`` returns true if given, else when ``port`` accepts a TCP
    connection if given, else as soon as it is spawned and still alive.
    """

    name = "program"

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        ready: Callable[[], bool] | None = None,
    ):
        super().__init__(port=port, data_dir=data_dir, env=env)
        self._command = list(command)
        self._ready = ready
        self._listens = port is not None
        self._may_move = False  # the command names its port itself

    def command(self) -> list[str]:
        return self._command

    def ping(self) -> None:
        if self._ready is not None:
            if not self._ready():
                raise RuntimeError("not ready yet")
        elif self._listens:
            socket.create_connection((self.host, self.port), timeout=0.5).close()


def _wait_stopped(pid: int, seconds: float) -> None:
    """Wait (at most ``seconds``) until every thread of ``pid`` is stopped (state T)."""
    deadline = time.monotonic() + seconds
    tasks = Path(f"/proc/{pid}/task")
    while time.monotonic() < deadline:
        try:
            states = [
                (task / "stat").read_text().rpartition(")")[2].split()[0]
                for task in tasks.iterdir()
            ]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return  # gone, or no /proc: nothing to wait for
        if all(state in ("T", "t", "Z", "X") for state in states):
            return
        time.sleep(0.002)


# The safety net ---------------------------------------------------------------------


def temporary_folder(prefix: str) -> Path:
    """A new folder under the system's temp folder, removed at exit."""
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
