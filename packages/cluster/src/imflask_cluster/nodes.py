"""One node of the cluster: how to start it, and the PID record that lets a later command end it.

``imflask-cluster up`` exits while its nodes run on, so a node is controlled
through what ``state.json`` says about it: its command, environment and folder
to start it again, and its PID with the kernel's start time of that PID, so
that a PID the system has reused for another program is never signalled.
Each node runs in its own session (process group): a signal reaches its
children too (gunicorn's workers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

LOG_NAME = "node.log"
# Variables of the calling shell that would change what a node does: the cluster sets its own.
_NOT_INHERITED = ("FLASK_", "GUNICORN_", "PROMETHEUS_", "IMFLASK_")

# Popen objects of the nodes this process started, so their exit is reaped (no zombie).
_CHILDREN: dict[int, subprocess.Popen] = {}


@dataclass
class Node:
    """What ``state.json`` keeps about one node."""

    name: str
    kind: str  # haproxy, app, mysql, redis, sentinel, mongo, worker
    folder: str
    command: list[str]
    port: int | None = None
    env: dict[str, str] = field(default_factory=dict)  # on top of the caller's environment
    role: str | None = None  # as set up: primary, replica, master
    pid: int | None = None
    pid_started: int | None = None  # /proc/PID/stat start time, in clock ticks since boot

    @classmethod
    def from_dict(cls, data: dict) -> Node:
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def log_path(self) -> Path:
        return Path(self.folder) / LOG_NAME

    @property
    def alive(self) -> bool:
        """The recorded process still runs (and is not a zombie or a reused PID)."""
        return self.pid is not None and _start_time(self.pid) == self.pid_started

    def spawn(self) -> None:
        """Start the command in its own session, its output appended to ``node.log``."""
        if self.alive:
            raise RuntimeError(f"{self.name} already runs (pid {self.pid})")
        Path(self.folder).mkdir(parents=True, exist_ok=True)
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith(_NOT_INHERITED)
        }
        environment.update(self.env)
        with self.log_path.open("ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} start: {self.command}\n".encode())
            log.flush()
            process = subprocess.Popen(  # noqa: S603 - the cluster's own commands
                self.command,
                cwd=self.folder,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _CHILDREN[process.pid] = process
        self.pid = process.pid
        self.pid_started = _start_time(process.pid)

    def exited_while_starting(self) -> bool:
        return self.pid is not None and not self.alive

    def send(self, signum: int) -> None:
        """Send a signal to the node's process group (nothing if it is not running)."""
        if self.alive:
            assert self.pid is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signum)

    def kill(self, timeout: float = 10) -> None:
        """SIGKILL the node's process group and wait until it is gone."""
        self.send(signal.SIGCONT)  # a paused process takes SIGKILL too, but its children wait
        self.send(signal.SIGKILL)
        self.wait_gone(timeout)

    def stop(self, grace: float = 40) -> bool:
        """SIGTERM, then SIGKILL after ``grace`` seconds; True if it ended on SIGTERM."""
        if not self.alive:
            return True
        self.send(signal.SIGCONT)
        self.send(signal.SIGTERM)
        if self.wait_gone(grace):
            return True
        self.kill()
        return False

    def wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.alive:
            child = _CHILDREN.get(self.pid or -1)
            if child is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(0.05)
            else:
                time.sleep(0.05)
            if time.monotonic() > deadline:
                return False
        _CHILDREN.pop(self.pid or -1, None)
        return True

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _start_time(pid: int) -> int | None:
    """When the process started (clock ticks since boot); None if gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])
