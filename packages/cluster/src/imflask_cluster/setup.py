"""The first-time set-up of a cluster: files, the MariaDB install and replication, the schema."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from imflask_cluster import binaries, probes
from imflask_cluster.errors import ClusterError
from imflask_cluster.layout import (
    APP_USER,
    DATABASE,
    HOST,
    REPLICATION_USER,
    SENTINEL_SERVICE,
    haproxy_config,
    haproxy_config_path,
    mariadb_install_command,
    mysql_replicas,
    sentinel_config,
)

if TYPE_CHECKING:
    from imflask_cluster.cluster import Cluster


def write_files(cluster: Cluster) -> None:
    """The secret key, each sentinel's first configuration, and HAProxy's configuration."""
    cluster.folder.mkdir(parents=True, exist_ok=True)
    secret = cluster.folder / "secret_key"
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(cluster.keys["secret_key"] + "\n")
    for node in cluster.nodes.values():
        Path(node.folder).mkdir(parents=True, exist_ok=True)
    master = cluster.node("redis1")
    for sentinel in cluster.of_kind("sentinel"):
        Path(sentinel.folder, "sentinel.conf").write_text(
            sentinel_config(
                master.port or 0, sentinel.port or 0, sentinel.folder, cluster.keys,
                cluster.state["options"]["sentinel_down_after_ms"],
            )
        )  # fmt: skip
    haproxy = cluster.node("haproxy")
    config = haproxy_config(
        haproxy, cluster.of_kind("app"), cluster.state["options"]["gunicorn_workers"]
    )
    haproxy_config_path(haproxy).write_text(config)
    run_logged(
        [binaries.debian("haproxy"), "-c", "-q", "-f", str(haproxy_config_path(haproxy))],
        env={}, cwd=Path(haproxy.folder), log=haproxy.log_path, timeout=30,
    )  # fmt: skip


def install_mariadb(cluster: Cluster) -> None:
    """``mariadb-install-db`` once, into the primary's folder; each replica starts from a copy."""
    primary = cluster.node("mysql-primary")
    datadir = Path(primary.folder) / "data"
    run_logged(
        mariadb_install_command(datadir), env={}, cwd=Path(primary.folder),
        log=primary.log_path, timeout=120,
    )  # fmt: skip
    for replica in mysql_replicas(cluster.nodes):
        shutil.copytree(datadir, Path(replica.folder) / "data")


def mysql_replication(cluster: Cluster) -> None:
    """GTID replication from the primary, the app's user and database (replicated)."""
    keys = cluster.keys
    primary, replicas = cluster.node("mysql-primary"), mysql_replicas(cluster.nodes)
    # A fresh datadir has anonymous users that shadow repl@% and imflask@% from 127.0.0.1.
    # sql_log_bin=0: these statements must not replicate (the replicas have their own copy).
    for node in (primary, *replicas):
        with _root(node) as cursor:
            cursor.execute("SET sql_log_bin = 0")
            cursor.execute("DELETE FROM mysql.global_priv WHERE user = ''")
            cursor.execute("FLUSH PRIVILEGES")
    with _root(primary) as cursor:
        cursor.execute("SET sql_log_bin = 0")
        cursor.execute(
            f"CREATE USER '{REPLICATION_USER}'@'%%' IDENTIFIED BY %s",
            (keys["replication_password"],),
        )
        cursor.execute(f"GRANT REPLICATION SLAVE ON *.* TO '{REPLICATION_USER}'@'%'")
    for replica in replicas:
        with _root(replica) as cursor:
            cursor.execute(
                "CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, "
                "MASTER_PASSWORD = %s, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1, "
                "MASTER_HEARTBEAT_PERIOD = 1",
                (HOST, primary.port, REPLICATION_USER, keys["replication_password"]),
            )
            cursor.execute("START SLAVE")
    with _root(primary) as cursor:  # replicated: the replicas get the database and the user
        cursor.execute(f"CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        cursor.execute(f"CREATE USER '{APP_USER}'@'%%' IDENTIFIED BY %s", (keys["mysql_password"],))
        cursor.execute(f"GRANT ALL PRIVILEGES ON `{DATABASE}`.* TO '{APP_USER}'@'%'")
        # To read replication state: SHOW SLAVE STATUS, @@gtid_binlog_pos.
        cursor.execute(f"GRANT SLAVE MONITOR, BINLOG MONITOR ON *.* TO '{APP_USER}'@'%'")
        cursor.execute("SELECT @@gtid_binlog_pos AS pos")
        position = cursor.fetchone()["pos"]
    for replica in replicas:
        with _root(replica, timeout=15) as cursor:
            cursor.execute("SELECT MASTER_GTID_WAIT(%s, 10) AS done", (position,))
            if cursor.fetchone()["done"] != 0:
                cursor.execute("SHOW SLAVE STATUS")
                raise ClusterError(
                    f"{replica.name} did not catch up within 10 s: {cursor.fetchone()}"
                )


def migrate(cluster: Cluster) -> None:
    """``flask db upgrade`` against the primary (SQL migrations and Mongo indexes)."""
    folder = cluster.folder / "migrate"
    run_logged(
        [binaries.workspace("flask"), "--app", "imflask_app:create_app", "db", "upgrade"],
        env=cluster.environment, cwd=folder, log=folder / "node.log", timeout=180,
    )  # fmt: skip


def wait_sentinels_meet(cluster: Cluster, timeout: float) -> None:
    """Until each sentinel knows the others and the replica: a failover needs their quorum."""
    sentinels = cluster.of_kind("sentinel")
    deadline = time.monotonic() + timeout
    while True:
        seen = [
            probes.sentinel_peers(s.port or 0, SENTINEL_SERVICE, cluster.sentinel_password)
            for s in sentinels
        ]
        if all(others == len(sentinels) - 1 and replicas >= 1 for others, replicas in seen):
            return
        if time.monotonic() > deadline:
            raise ClusterError(f"sentinels (others, replicas) after {timeout} s: {seen}")
        time.sleep(0.2)


def run_logged(
    command: list[str], *, env: dict[str, str], cwd: Path, log: Path, timeout: float
) -> str:
    """Run a one-off command, its output appended to ``log``; ClusterError if it fails."""
    cwd.mkdir(parents=True, exist_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "IMFLASK_"))}
    environment.update(env)
    done = subprocess.run(  # noqa: S603 - the cluster's own commands
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    with log.open("a") as out:
        out.write(f"--- {time.strftime('%H:%M:%S')} {command}\n{output}")
    if done.returncode != 0:
        raise ClusterError(f"{' '.join(command)} failed ({done.returncode}):\n{output[-3000:]}")
    return output


class _root:
    """``with _root(node) as cursor``: root on one MariaDB node, autocommit."""

    def __init__(self, node, timeout: float = 5):
        self.conn = probes.mysql_connect(node.port, timeout=timeout)

    def __enter__(self):
        self.cursor = self.conn.cursor()
        return self.cursor

    def __exit__(self, *exc):
        self.cursor.close()
        self.conn.close()
