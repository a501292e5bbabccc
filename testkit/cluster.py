"""pytest plugin of the topology suite: one ``imflask-cluster`` per test session.

Loaded by the root ``conftest.py``, so a test of any package marked
``topology`` can ask for ``cluster`` (started on first use, ``down`` at the end
of the session even when a test failed) or ``healthy_cluster`` (the same, with
every node that a previous test left down started again first). The cluster is
driven as a user would drive it: ``imflask-cluster up`` and ``down`` run as
commands; kills and starts in between go through :class:`imflask_cluster.Cluster`.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from imflask_cluster import Cluster, probes
from imflask_cluster.layout import SENTINEL_SERVICE as SERVICE
from testkit.load import Outcome, http

UP_TIMEOUT = 240  # seconds; ~15 s on a quiet 2-core machine
DOWN_TIMEOUT = 120
PASSWORD = "correct horse battery staple"  # noqa: S105 - test users only

# Every client of the suite gets its own loopback address (127.x.y.z): production's
# rate limits (10 sign-ups or logins a minute per address) then never throttle the suite,
# and a test can tell clients apart the way HAProxy does. Random second octet: two
# sessions within a minute do not share counters.
_ADDRESSES = (
    f"127.{second}.{third}.{fourth}"
    for second in itertools.count(random.randrange(1, 200))
    for third in range(256)
    for fourth in range(2, 255)
)


def client_address() -> str:
    """A loopback address no other client of this session has used."""
    return next(_ADDRESSES)


def cluster_command(*args: str | Path, timeout: float) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "imflask-cluster"
    return subprocess.run(
        [str(script), *map(str, args)], capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


@contextlib.contextmanager
def started_cluster(folder: Path, *up_options: str) -> Iterator[Cluster]:
    """``imflask-cluster up folder *up_options`` ... ``down folder``, even when a test failed.

    ``cluster.up_output`` (what ``up`` printed) and ``cluster.up_wall_seconds`` are kept
    for the tests.
    """
    try:
        began = time.monotonic()
        done = cluster_command("up", folder, *up_options, timeout=UP_TIMEOUT)
        if done.returncode != 0:
            pytest.fail(f"imflask-cluster up failed ({done.returncode}):\n{done.stderr}")
        cluster = Cluster.open(folder)
        cluster.up_output = done.stdout  # type: ignore[attr-defined]
        cluster.up_wall_seconds = time.monotonic() - began  # type: ignore[attr-defined]
        yield cluster
    finally:
        if (folder / "state.json").exists():
            done = cluster_command("down", folder, timeout=DOWN_TIMEOUT)
            if done.returncode != 0:  # still end every process, then say so
                Cluster.open(folder).down()
                pytest.fail(f"imflask-cluster down failed:\n{done.stderr}")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The session's cluster: HAProxy, 3 gunicorn instances (2 workers each), a MariaDB
    primary and replica, Redis master, replica and 3 sentinels, SecantusDB, 2 workers.

    ``cluster.url`` is the front door, ``cluster.environment`` the ``FLASK_*``
    variables, ``cluster.node("app1").port`` one instance. Tests that break it for good
    (a Redis failover) take a cluster of their own (``started_cluster``) instead.
    """
    with started_cluster(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


@pytest.fixture
def healthy_cluster(cluster: Cluster) -> Cluster:
    """The session's cluster with every node running and every instance in rotation."""
    cluster.reload()
    for node in cluster.nodes.values():
        if not node.alive:
            cluster.start(node.name)
    cluster.wait_in_rotation([n.name for n in cluster.of_kind("app")], timeout=30)
    return cluster


# Conduit through the cluster ---------------------------------------------------------


@dataclass(frozen=True)
class User:
    """A signed-up user and the loopback address it calls from."""

    username: str
    token: str
    address: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def call(self, base_url: str, method: str, path: str, json=None, timeout=10.0) -> Outcome:
        return http(base_url, method, path, json=json, headers=self.headers, timeout=timeout,
                    source=self.address)  # fmt: skip


_names = itertools.count(1)


def sign_up(base_url: str, prefix: str = "user") -> User:
    """A new user, signed up through ``base_url`` from a loopback address of its own."""
    address = client_address()
    username = f"{prefix}{next(_names)}x{random.randrange(10**6)}"
    user = {"username": username, "email": f"{username}@example.org", "password": PASSWORD}
    answer = http(base_url, "POST", "/api/users", json={"user": user}, source=address)
    assert answer.status == 201, answer
    return User(username, answer.body["user"]["token"], address)


def instance_urls(cluster: Cluster, names: Iterable[str]) -> list[str]:
    """The base URLs of these app instances, straight, not through the front door."""
    return [f"http://127.0.0.1:{cluster.node(name).port}" for name in names]


def until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``condition()`` held; AssertionError after ``timeout``."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - began


def publish(base_url: str, author: User, title: str, timeout: float = 10.0) -> Outcome:
    article = {"article": {"title": title, "description": "d", "body": f"body of {title}"}}
    return author.call(base_url, "POST", "/api/articles", json=article, timeout=timeout)


# MySQL replication -------------------------------------------------------------------


def primary_position(cluster: Cluster) -> str:
    """Where the MySQL primary is now (``@@gtid_binlog_pos``)."""
    port = cluster.node("mysql-primary").port or 0
    with probes.mysql_connect(port) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT @@gtid_binlog_pos AS pos")
        return cursor.fetchone()["pos"]


def applied(cluster: Cluster, replica: str, position: str, timeout: float) -> bool:
    """Has ``replica`` applied ``position``, within ``timeout`` seconds (0: right now)?"""
    port = cluster.node(replica).port or 0
    with probes.mysql_connect(port, timeout=timeout + 5) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT MASTER_GTID_WAIT(%s, %s) AS missing", (position, timeout))
        return cursor.fetchone()["missing"] == 0


# Redis Sentinel ----------------------------------------------------------------------


def named_master(cluster: Cluster) -> str | None:
    """The Redis node every live sentinel names as master now (None while they disagree)."""
    named = set()
    for sentinel in cluster.of_kind("sentinel"):
        if sentinel.alive:
            named.add(
                probes.sentinel_master(sentinel.port or 0, SERVICE, cluster.sentinel_password)
            )
    ports = {address[1] for address in named if address is not None}
    if len(named) != 1 or len(ports) != 1:
        return None
    (port,) = ports
    return next((n.name for n in cluster.of_kind("redis") if n.port == port), None)


def wait_for_new_master(cluster: Cluster, old: str, timeout: float = 30) -> str:
    """The node the sentinels name once it is not ``old`` and says it is a master."""
    password = cluster.keys["redis_password"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        name = named_master(cluster)
        if name is not None and name != old:
            port = cluster.node(name).port or 0
            if probes.redis_node(port, password).role == "master":
                return name
        time.sleep(0.02)
    raise AssertionError(f"no new Redis master within {timeout} s")


def wait_redis_replicated(cluster: Cluster, timeout: float = 60) -> None:
    """Until every Redis node runs, the master has each other one connected as a replica,
    and every sentinel knows them (a failover, and ``WAIT 1``, need a replica)."""
    deadline = time.monotonic() + timeout
    password = cluster.keys["redis_password"]
    while True:
        master = named_master(cluster)
        nodes = cluster.of_kind("redis")
        if master is not None and all(n.alive for n in nodes):
            info = probes.redis_client(cluster.node(master).port or 0, password)
            try:
                connected = int(info.info("replication").get("connected_slaves", 0))
            except redis.RedisError:  # promoting or restarting: ask again
                connected = -1
            finally:
                info.close()
            peers = [
                probes.sentinel_peers(s.port or 0, SERVICE, cluster.sentinel_password)
                for s in cluster.of_kind("sentinel")
            ]
            if connected == len(nodes) - 1 and all(r >= len(nodes) - 1 for _, r in peers):
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"Redis not replicated again within {timeout} s")
        time.sleep(0.1)
