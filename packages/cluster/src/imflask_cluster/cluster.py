"""A cluster under one folder: bring it up, end it, kill and start its nodes, report on them.

The folder holds ``state.json`` (mode 600: it carries the generated secrets),
``secret_key``, and one sub-folder per node with its data, configuration and
``node.log``. Every command re-reads the state, so the CLI and a test's
Python code can take turns on one cluster.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from imflask_cluster import binaries, probes, setup
from imflask_cluster.errors import ClusterError
from imflask_cluster.layout import (
    BACKEND,
    SENTINEL_SERVICE,
    Options,
    find_gunicorn_config,
    new_secrets,
    plan,
    redis_command,
    stats_socket,
)
from imflask_cluster.nodes import Node

STATE_NAME = "state.json"
START_TIMEOUT = 60.0
STOP_GRACE = 40.0  # above gunicorn's graceful_timeout (30 s)
WORKER_SETTLE = 1.0  # a worker that still runs this long after its start counts as up
# The order nodes come up in; each tier waits for the one before. down goes in reverse.
TIERS = [
    ("stores", ("mysql", "redis", "mongo")),
    ("sentinels", ("sentinel",)),
    ("app instances and workers", ("app", "worker")),
    ("front door", ("haproxy",)),
]


@dataclass(frozen=True)
class NodeStatus:
    name: str
    kind: str
    pid: int | None
    port: int | None
    running: bool  # its recorded process is alive
    up: bool  # and it answers its protocol's check
    role: str | None
    detail: str


class Cluster:
    """One cluster's state; every method acts on the processes it records."""

    def __init__(self, folder: str | os.PathLike[str], state: dict):
        self.folder = Path(folder).resolve()
        self.state = state
        self.nodes = {name: Node.from_dict(data) for name, data in state["nodes"].items()}
        self._spawned_at: dict[str, float] = {}

    # Opening and saving ---------------------------------------------------------------

    @classmethod
    def open(cls, folder: str | os.PathLike[str]) -> Cluster:
        path = Path(folder) / STATE_NAME
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            raise ClusterError(
                f"no cluster in {folder}: run `imflask-cluster up {folder}`"
            ) from None
        return cls(folder, state)

    def reload(self) -> None:
        fresh = Cluster.open(self.folder)
        self.state, self.nodes = fresh.state, fresh.nodes

    def save(self) -> None:
        self.state["nodes"] = {name: node.to_dict() for name, node in self.nodes.items()}
        path = self.folder / STATE_NAME
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(self.state, out, indent=2)
        temporary.replace(path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One command at a time changes the cluster (the state is re-read under the lock)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (self.folder / STATE_NAME).exists():
                self.reload()
            yield

    # What it offers -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The front door: HAProxy's address."""
        return f"http://127.0.0.1:{self.nodes['haproxy'].port}"

    @property
    def environment(self) -> dict[str, str]:
        """The ``FLASK_*`` variables that reach the cluster (for ``flask``, a worker, a test)."""
        return dict(self.state["environment"])

    @property
    def keys(self) -> dict[str, str]:
        return self.state["secrets"]

    @property
    def sentinel_password(self) -> str | None:
        """The sentinels' ``requirepass`` (None in a cluster made before they had one)."""
        return self.keys.get("sentinel_password")

    def node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise ClusterError(
                f"no node {name!r}; the nodes are: {', '.join(self.nodes)}"
            ) from None

    def of_kind(self, kind: str) -> list[Node]:
        return [node for node in self.nodes.values() if node.kind == kind]

    # Bringing it up -----------------------------------------------------------------------

    @classmethod
    def up(
        cls,
        folder: str | os.PathLike[str],
        options: Options | None = None,
        progress: Callable[[str], None] = lambda message: None,
    ) -> Cluster:
        """Create (first time) or start again every node under ``folder``, tier by tier."""
        binaries.require_all()
        folder = Path(folder).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        if (folder / STATE_NAME).exists():
            cluster = cls.open(folder)
            running = [node.name for node in cluster.nodes.values() if node.alive]
            if running:
                raise ClusterError(
                    f"the cluster in {folder} already runs ({', '.join(running)}): "
                    f"`imflask-cluster down {folder}` first"
                )
        else:
            options = options or Options()
            if not options.gunicorn_config:
                options = Options(
                    **{**options.__dict__, "gunicorn_config": find_gunicorn_config(None)}
                )
            keys = new_secrets()
            nodes = plan(folder, options, keys)
            state = {
                "version": 1,
                "options": options.__dict__,
                "secrets": keys,
                "initialized": False,
                "nodes": {name: node.to_dict() for name, node in nodes.items()},
                "environment": {},
            }
            cluster = cls(folder, state)
            cluster.state["environment"] = {
                k: v
                for k, v in nodes["app1"].env.items()
                if k.startswith("FLASK_") and k != "FLASK_PROXY_HOPS"
            }
            setup.write_files(cluster)
            cluster.save()
        with cluster._locked():
            try:
                cluster._bring_up(progress)
            except BaseException:
                progress("up failed: stopping what it started")
                cluster._end(cluster.nodes.values(), grace=5)
                cluster.save()
                raise
            cluster.state["up_seconds"] = round(time.monotonic() - began, 1)
            cluster.save()
        return cluster

    def _bring_up(self, progress: Callable[[str], None]) -> None:
        first_time = not self.state["initialized"]
        if first_time and not (Path(self.node("mysql-primary").folder) / "data").exists():
            progress("installing the MariaDB data folder (mariadb-install-db)")
            setup.install_mariadb(self)
        for label, kinds in TIERS:
            progress(f"starting the {label}")
            self._start_all([n for n in self.nodes.values() if n.kind in kinds])
            if label == "stores" and first_time:
                progress("setting up GTID replication, the app's MySQL user and database")
                setup.mysql_replication(self)
            if label == "sentinels":
                progress("applying the schema (flask db upgrade)")
                setup.migrate(self)
        self.wait_in_rotation([n.name for n in self.of_kind("app")], timeout=20)
        setup.wait_sentinels_meet(self, timeout=30)
        self.state["initialized"] = True

    def _start_all(self, nodes: Iterable[Node], timeout: float = START_TIMEOUT) -> None:
        nodes = list(nodes)
        for node in nodes:
            if node.kind == "redis":
                node.command = redis_command(node, self.keys, master_port=self.redis_master_port())
            node.spawn()
            self._spawned_at[node.name] = time.monotonic()
        self.save()
        deadline = time.monotonic() + timeout
        waiting = list(nodes)
        while waiting:
            for node in list(waiting):
                if not node.alive:
                    raise ClusterError(
                        f"{node.name} exited while starting; the end of {node.log_path}:\n"
                        f"{node.log_tail()}"
                    )
                if self._answers(node):
                    waiting.remove(node)
            if waiting and time.monotonic() > deadline:
                names = ", ".join(n.name for n in waiting)
                raise ClusterError(
                    f"{names} did not answer within {timeout:.0f} s; the end of "
                    f"{waiting[0].log_path}:\n{waiting[0].log_tail()}"
                )
            time.sleep(0.1)

    def _answers(self, node: Node) -> bool:
        port = node.port or 0
        if node.kind == "mysql":
            return probes.mysql(port).up
        if node.kind == "redis":
            return probes.redis_node(port, self.keys["redis_password"]).up
        if node.kind == "sentinel":
            return (
                probes.sentinel_master(port, SENTINEL_SERVICE, self.sentinel_password) is not None
            )
        if node.kind == "mongo":
            return probes.mongo(port).up
        if node.kind == "app":
            return probes.app(port).up
        if node.kind == "haproxy":
            return probes.haproxy(port, str(stats_socket(node)), BACKEND).up
        spawned = self._spawned_at.get(node.name, 0.0)
        return node.alive and time.monotonic() - spawned >= WORKER_SETTLE

    # Ending it ------------------------------------------------------------------------------

    def down(self) -> None:
        """Stop every node it started (SIGTERM by tier, front door first; SIGKILL after a grace)."""
        with self._locked():
            for _, kinds in reversed(TIERS):
                self._end([n for n in self.nodes.values() if n.kind in kinds], grace=STOP_GRACE)
            self.save()

    def _end(self, nodes: Iterable[Node], grace: float) -> None:
        nodes = [node for node in nodes if node.alive]
        for node in nodes:
            node.send(15)  # SIGTERM to all of the tier at once, then wait for each
        deadline = time.monotonic() + grace
        for node in nodes:
            if not node.wait_gone(max(0.0, deadline - time.monotonic())):
                node.kill()
            node.pid = node.pid_started = None

    # One node -------------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """SIGKILL one node (its whole process group)."""
        with self._locked():
            node = self.node(name)
            node.kill()
            node.pid = node.pid_started = None
            self.save()

    def stop(self, name: str) -> bool:
        """SIGTERM one node and wait for it to exit; True if it did before the grace ran out."""
        with self._locked():
            node = self.node(name)
            ended = node.stop(STOP_GRACE)
            node.pid = node.pid_started = None
            self.save()
            return ended

    def start(self, name: str, timeout: float = START_TIMEOUT) -> None:
        """Start one node again and wait until it answers (an app instance: until in rotation)."""
        with self._locked():
            node = self.node(name)
            if node.alive:
                raise ClusterError(f"{name} already runs (pid {node.pid})")
            self._start_all([node], timeout)
            if node.kind == "app":
                self._set_rotation(name, "ready")
        if node.kind == "app":
            self.wait_in_rotation([name], timeout=timeout)

    def restart(self, name: str) -> None:
        """A rolling restart: an app instance is drained first, so no request is dropped."""
        node = self.node(name)
        if node.kind == "app" and self.node("haproxy").alive:
            self._set_rotation(name, "drain")
            self._wait_drained(name, timeout=10)
        self.stop(name)
        self.start(name)

    # The front door's view ---------------------------------------------------------------

    def rotation(self) -> dict[str, str]:
        """Each app instance's status in HAProxy (UP, DOWN, DRAIN, MAINT, ...)."""
        rows = probes.haproxy_stats(str(stats_socket(self.node("haproxy"))))
        return {
            row["svname"]: row["status"]
            for row in rows
            if row["pxname"] == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def wait_in_rotation(self, names: Iterable[str], timeout: float = 20, up: bool = True) -> float:
        """Wait until HAProxy has each instance UP (or, with ``up=False``, not UP); seconds."""
        names = list(names)
        began = time.monotonic()
        while True:
            try:
                statuses = self.rotation()
            except OSError:
                statuses = {}
            if all((statuses.get(n, "").startswith("UP")) == up for n in names):
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                raise ClusterError(
                    f"HAProxy after {timeout} s: {statuses} (wanted {names} up={up})"
                )
            time.sleep(0.05)

    def _set_rotation(self, name: str, state: str) -> None:
        admin = str(stats_socket(self.node("haproxy")))
        for backend in (BACKEND, f"{BACKEND}_live"):
            with contextlib.suppress(OSError):
                probes.haproxy_command(admin, f"set server {backend}/{name} state {state}")

    def _wait_drained(self, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        admin = str(stats_socket(self.node("haproxy")))
        while time.monotonic() < deadline:
            rows = probes.haproxy_stats(admin)
            busy = sum(int(r["scur"] or 0) for r in rows if r["svname"] == name)
            if busy == 0:
                return
            time.sleep(0.05)

    # Redis and MySQL helpers --------------------------------------------------------------

    def redis_master_port(self) -> int | None:
        """The master's port as the sentinels name it (None before they run)."""
        for sentinel in self.of_kind("sentinel"):
            if sentinel.alive and (
                address := probes.sentinel_master(
                    sentinel.port or 0, SENTINEL_SERVICE, self.sentinel_password
                )
            ):
                return address[1]
        # Not running: the master they last agreed on, from the configuration they rewrite.
        for sentinel in self.of_kind("sentinel"):
            with contextlib.suppress(FileNotFoundError):
                for line in Path(sentinel.folder, "sentinel.conf").read_text().splitlines():
                    words = line.split()
                    if words[:3] == ["sentinel", "monitor", SENTINEL_SERVICE]:
                        return int(words[4])
        masters = [n for n in self.of_kind("redis") if n.role == "master"]
        return masters[0].port if masters else None

    def set_replica_delay(self, seconds: int, replica: str = "mysql-replica") -> None:
        """Make a MySQL replica lag exactly ``seconds`` behind the primary (0: no delay)."""
        with (
            probes.mysql_connect(self.node(replica).port or 0) as conn,
            conn.cursor() as cur,
        ):
            cur.execute("STOP SLAVE")  # MariaDB changes MASTER_DELAY only with both stopped
            cur.execute("CHANGE MASTER TO MASTER_DELAY = %s", (int(seconds),))
            cur.execute("START SLAVE")

    # Status ---------------------------------------------------------------------------------

    def status(self) -> list[NodeStatus]:
        try:
            rotation = self.rotation() if self.node("haproxy").alive else {}
        except OSError:
            rotation = {}
        rows = []
        for node in self.nodes.values():
            health = (
                self._health(node) if node.alive else probes.Health(False, detail="not running")
            )
            detail = health.detail
            if node.kind == "app" and rotation:
                detail = f"HAProxy {rotation.get(node.name, '?')}; {detail}"
            rows.append(NodeStatus(
                node.name, node.kind, node.pid if node.alive else None, node.port, node.alive,
                health.up, health.role or node.role, detail,
            ))  # fmt: skip
        return rows

    def _health(self, node: Node) -> probes.Health:
        port = node.port or 0
        if node.kind == "mysql":
            return probes.mysql(port)
        if node.kind == "redis":
            return probes.redis_node(port, self.keys["redis_password"])
        if node.kind == "sentinel":
            return probes.sentinel(port, SENTINEL_SERVICE, self.sentinel_password)
        if node.kind == "mongo":
            return probes.mongo(port)
        if node.kind == "app":
            return probes.app(port)
        if node.kind == "haproxy":
            return probes.haproxy(port, str(stats_socket(node)), BACKEND)
        return probes.Health(node.alive, "worker", f"pid {node.pid}")
