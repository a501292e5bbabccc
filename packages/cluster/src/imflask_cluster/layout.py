"""The reference topology as node records: ports, folders, commands, configuration files.

Everything listens on 127.0.0.1 on ports free when ``up`` first ran, and
lives under the cluster's folder, one sub-folder per node.
"""

from __future__ import annotations

import os
import secrets
import socket
import string
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from imflask_cluster import binaries
from imflask_cluster.nodes import Node

HOST = "127.0.0.1"
SENTINEL_SERVICE = "imflask"  # FLASK_REDIS_SENTINEL_MASTER
DATABASE = "imflask"
APP_USER = "imflask"
REPLICATION_USER = "repl"
BACKEND = "app"  # the HAProxy backend of the app instances
# Small InnoDB sizes: six processes share a small machine. The install uses the same sizes,
# so the first start resizes nothing.
INNODB = ["--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M"]
UNIX_SOCKET_MAX = 100  # sun_path is 108 bytes on Linux


@dataclass(frozen=True)
class Options:
    """The shape of the cluster: how many of each, and what the instances run."""

    instances: int = 3
    mysql_replicas: int = 1
    gunicorn_workers: int = 2
    workers: int = 2
    sentinel_down_after_ms: int = 1000
    gunicorn_config: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def new_secrets() -> dict[str, str]:
    return {
        "secret_key": secrets.token_urlsafe(48),
        "mysql_password": secrets.token_urlsafe(18),
        "replication_password": secrets.token_urlsafe(18),
        "redis_password": secrets.token_urlsafe(18),
        "sentinel_password": secrets.token_urlsafe(18),
    }


def find_gunicorn_config(explicit: str | None) -> str:
    """``--gunicorn-config``, else gunicorn.conf.py in this folder, a parent, or the workspace."""
    if explicit:
        path = Path(explicit).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"--gunicorn-config {explicit}: no such file")
        return str(path)
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            candidate = folder / "gunicorn.conf.py"
            if candidate.is_file():
                return str(candidate)
    raise FileNotFoundError(
        "gunicorn.conf.py not found here or in a parent folder: run from the IMFlask "
        "checkout or pass --gunicorn-config PATH"
    )


def plan(folder: Path, options: Options, keys: dict[str, str]) -> dict[str, Node]:
    """Every node of a new cluster under ``folder`` (nothing is started or written)."""
    if options.mysql_replicas < 1:
        raise ValueError(f"--mysql-replicas {options.mysql_replicas}: the cluster needs 1 or more")
    nodes: dict[str, Node] = {}

    def add(name: str, kind: str, command: list[str], port: int | None, **extra) -> Node:
        node = Node(name=name, kind=kind, folder=str(folder / name), command=command,
                    port=port, **extra)  # fmt: skip
        nodes[name] = node
        return node

    primary = add("mysql-primary", "mysql", [], free_port(), role="primary")
    primary.command = mariadb_command(primary, server_id=1)
    for i in range(1, options.mysql_replicas + 1):
        replica = add(replica_name(i), "mysql", [], free_port(), role="replica")
        replica.command = mariadb_command(replica, server_id=1 + i)

    redis_ports = [free_port(), free_port()]
    for i, port in enumerate(redis_ports, start=1):
        node = add(f"redis{i}", "redis", [], port, role="master" if i == 1 else "replica")
        node.command = redis_command(node, keys, master_port=redis_ports[0])
    for i in range(1, 4):
        port = free_port()
        node = add(f"sentinel{i}", "sentinel", [], port)
        node.command = [binaries.debian("redis-sentinel"), str(Path(node.folder) / "sentinel.conf")]

    mongo = add("mongo", "mongo", [], free_port())
    mongo.command = [
        binaries.workspace("secantusd-py"), "--host", HOST, "--port", str(mongo.port),
        "--storage-path", str(Path(mongo.folder) / "db"), "--sync-on-commit",
        "--log-level", "WARNING",
    ]  # fmt: skip

    app_env = app_environment(nodes, keys, options)
    for i in range(1, options.instances + 1):
        node = add(f"app{i}", "app", [], free_port())
        node.command = [
            binaries.workspace("gunicorn"), "-c", options.gunicorn_config,
            "--control-socket", str(Path(node.folder) / "gunicorn.ctl"),
            "imflask_app.wsgi:app",
        ]  # fmt: skip
        node.env = {
            **app_env,
            "FLASK_PROXY_HOPS": "1",
            "GUNICORN_BIND": f"{HOST}:{node.port}",
            "GUNICORN_WORKERS": str(options.gunicorn_workers),
            "PROMETHEUS_MULTIPROC_DIR": str(Path(node.folder) / "metrics"),
        }
    for i in range(1, options.workers + 1):
        node = add(f"worker{i}", "worker", [binaries.workspace("imflask-worker")], None)
        node.env = {**app_env, "PROMETHEUS_MULTIPROC_DIR": str(Path(node.folder) / "metrics")}

    haproxy = add("haproxy", "haproxy", [], free_port())
    haproxy.command = [binaries.debian("haproxy"), "-db", "-f", str(haproxy_config_path(haproxy))]
    for path in (stats_socket(haproxy), *(Path(n.folder) / "gunicorn.ctl" for n in nodes.values())):
        if len(str(path)) > UNIX_SOCKET_MAX:
            raise ValueError(f"{folder} is too deep: {path} is longer than a unix socket allows")
    return nodes


def replica_name(i: int) -> str:
    """``mysql-replica``, then ``mysql-replica2``, ``mysql-replica3``..."""
    return "mysql-replica" if i == 1 else f"mysql-replica{i}"


def mysql_replicas(nodes: dict[str, Node]) -> list[Node]:
    """The MySQL replicas, in the order of ``FLASK_MYSQL_REPLICA_URI``."""
    return [n for n in nodes.values() if n.kind == "mysql" and n.role == "replica"]


def mariadb_command(node: Node, *, server_id: int) -> list[str]:
    folder = Path(node.folder)
    command = [
        binaries.debian("mariadbd"), "--no-defaults",
        f"--datadir={folder / 'data'}", f"--port={node.port}", f"--bind-address={HOST}",
        f"--socket={folder / 'mariadbd.sock'}", f"--pid-file={folder / 'mariadbd.pid'}",
        "--skip-name-resolve", *INNODB, "--innodb-flush-log-at-trx-commit=1",
        "--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin",
        "--max-connections=500",
    ]  # fmt: skip
    if node.role == "primary":
        command += [
            f"--server-id={server_id}",
            "--log-bin=mysql-bin",
            "--binlog-format=ROW",
            "--sync-binlog=1",
        ]
    else:
        command += [
            f"--server-id={server_id}", "--read-only=1", "--skip-log-bin", "--relay-log=relay-bin",
            "--slave-net-timeout=5",
        ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--user=root")
    return command


def mariadb_install_command(datadir: Path) -> list[str]:
    command = [
        binaries.debian("mariadb-install-db"), "--no-defaults", f"--datadir={datadir}",
        "--auth-root-authentication-method=normal", "--skip-test-db", *INNODB, "--skip-log-bin",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--user=root")
    return command


def redis_command(node: Node, keys: dict[str, str], *, master_port: int | None) -> list[str]:
    """redis-server with an append-only file; a replica of ``master_port`` unless it is its own."""
    password = keys["redis_password"]
    command = [
        binaries.debian("redis-server"), "--port", str(node.port), "--bind", HOST,
        "--dir", node.folder, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
        "--requirepass", password, "--masterauth", password, "--daemonize", "no",
    ]  # fmt: skip
    if master_port is not None and master_port != node.port:
        command += ["--replicaof", HOST, str(master_port)]
    return command


def sentinel_config(master_port: int, sentinel_port: int, folder: str, keys: dict[str, str],
                    down_after_ms: int) -> str:  # fmt: skip
    """A sentinel's first configuration (it rewrites the file as it learns the topology)."""
    return "\n".join([
        f"port {sentinel_port}",
        f"bind {HOST}",
        f"dir {folder}",
        "daemonize no",
        f"sentinel monitor {SENTINEL_SERVICE} {HOST} {master_port} 2",
        f"sentinel auth-pass {SENTINEL_SERVICE} {keys['redis_password']}",
        # Clients, and the other sentinels, must authenticate (they share one password).
        *([f"requirepass {keys['sentinel_password']}"] if keys.get("sentinel_password") else []),
        f"sentinel down-after-milliseconds {SENTINEL_SERVICE} {down_after_ms}",
        f"sentinel failover-timeout {SENTINEL_SERVICE} 10000",
        f"sentinel parallel-syncs {SENTINEL_SERVICE} 1",
        "",
    ])  # fmt: skip


def app_environment(
    nodes: dict[str, Node], keys: dict[str, str], options: Options
) -> dict[str, str]:
    """The ``FLASK_*`` variables that reach the cluster's stores (the app's and a worker's)."""
    password = keys["mysql_password"]
    redis_password = keys["redis_password"]
    mysql = f"mysql://{APP_USER}:{password}@{HOST}:{{port}}/{DATABASE}"
    sentinels = [n for n in nodes.values() if n.kind == "sentinel"]
    return {
        "FLASK_CONFIG": "production",
        "FLASK_SECRET_KEY": keys["secret_key"],
        "FLASK_MYSQL_URI": mysql.format(port=nodes["mysql-primary"].port),
        "FLASK_MYSQL_REPLICA_URI": ",".join(
            mysql.format(port=replica.port) for replica in mysql_replicas(nodes)
        ),
        "FLASK_MONGO_URI": f"mongodb://{HOST}:{nodes['mongo'].port}/?directConnection=true",
        # Every Redis user finds the master through the sentinels (and follows a failover).
        "FLASK_REDIS_SENTINELS": ",".join(f"{HOST}:{n.port}" for n in sentinels),
        "FLASK_REDIS_SENTINEL_MASTER": SENTINEL_SERVICE,
        "FLASK_REDIS_PW": redis_password,
        "FLASK_REDIS_SENTINEL_PW": keys["sentinel_password"],
        "FLASK_REDIS_DB": "0",
        **options.extra_env,
    }


def haproxy_config_path(node: Node) -> Path:
    return Path(node.folder) / "haproxy.cfg"


def stats_socket(node: Node) -> Path:
    return Path(node.folder) / "admin.sock"


def haproxy_template() -> str:
    return resources.files("imflask_cluster").joinpath("haproxy.cfg").read_text()


def haproxy_config(haproxy: Node, instances: list[Node], gunicorn_workers: int) -> str:
    """The repository's haproxy.cfg filled in for these instances."""
    servers = "\n".join(f"    server {n.name} {HOST}:{n.port}" for n in instances)
    return string.Template(haproxy_template()).substitute(
        bind=f"{HOST}:{haproxy.port}",
        stats_socket=stats_socket(haproxy),
        global_maxconn=4096,
        frontend_maxconn=4000,
        server_maxconn=gunicorn_workers,
        servers=servers,
    )
