"""Live checks of each kind of node: is it answering, and in what role."""

from __future__ import annotations

import csv
import http.client
import io
import json
import socket
from dataclasses import dataclass
from typing import Any

import pymongo
import pymongo.errors
import pymysql
import redis
from pymysql.cursors import DictCursor
from redis.backoff import NoBackoff
from redis.retry import Retry

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Health:
    """What one live check found: answering or not, the role, and a short detail."""

    up: bool
    role: str | None = None
    detail: str = ""


def mysql_connect(
    port: int, *, database: str | None = None, timeout: float = 1
) -> pymysql.Connection[pymysql.cursors.DictCursor]:
    """Root over TCP (the cluster's own administration; the app has its own user)."""
    return pymysql.connect(
        host=HOST, port=port, user="root", database=database, autocommit=True,
        connect_timeout=timeout, read_timeout=timeout + 1, write_timeout=timeout + 1,
        cursorclass=pymysql.cursors.DictCursor,
    )  # fmt: skip


def variable(cursor: DictCursor, name: str) -> Any:
    """The value of the server variable ``@@name`` (a SELECT of it always has one row)."""
    cursor.execute(f"SELECT @@{name} AS value")
    row = cursor.fetchone()
    assert row is not None
    return row["value"]


def mysql(port: int) -> Health:
    try:
        conn = mysql_connect(port)
    except pymysql.MySQLError as error:
        return Health(False, detail=str(error.args[-1]) if error.args else repr(error))
    with conn, conn.cursor() as cursor:
        cursor.execute("SHOW SLAVE STATUS")
        replica = cursor.fetchone()
        if replica is None:
            return Health(True, "primary", f"gtid {variable(cursor, 'gtid_binlog_pos') or '-'}")
        applied = variable(cursor, "gtid_slave_pos")
        lag = replica["Seconds_Behind_Master"]
        running = replica["Slave_IO_Running"] == "Yes" and replica["Slave_SQL_Running"] == "Yes"
        detail = (
            f"lag {lag if lag is not None else '?'} s, gtid {applied or '-'}"
            f", io {replica['Slave_IO_Running']}, sql {replica['Slave_SQL_Running']}"
        )
        if replica["Last_Error"]:
            detail += f", error: {replica['Last_Error']}"
        return Health(True, "replica" if running else "replica (stopped)", detail)


def redis_client(port: int, password: str | None, timeout: float = 1) -> redis.Redis:
    return redis.Redis(
        host=HOST, port=port, password=password, socket_timeout=timeout,
        socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),  # a probe asks once
    )  # fmt: skip


def redis_node(port: int, password: str | None) -> Health:
    client = redis_client(port, password)
    try:
        info = client.info("replication")
    except redis.RedisError as error:
        return Health(False, detail=str(error))
    finally:
        client.close()
    if info["role"] == "master":
        return Health(True, "master", f"{info.get('connected_slaves', 0)} replica(s) connected")
    lag = info.get("master_last_io_seconds_ago")
    detail = f"of {info.get('master_host')}:{info.get('master_port')}"
    detail += f", link {info.get('master_link_status')}, last io {lag} s ago"
    return Health(True, "replica", detail)


def sentinel(port: int, service: str, password: str | None) -> Health:
    client = redis_client(port, password)
    try:
        master = client.execute_command("SENTINEL", "MASTER", service)
    except redis.RedisError as error:
        return Health(False, detail=str(error))
    finally:
        client.close()
    if not isinstance(master, dict):  # a flat list on clients that do not parse it
        flat = master  # (redis-py types every command's answer as possibly None)
        assert flat is not None
        master = dict(zip(flat[::2], flat[1::2], strict=False))
    text = {_text(k): _text(v) for k, v in master.items()}
    detail = (
        f"master {text['ip']}:{text['port']} ({text['flags']}), "
        f"{text['num-other-sentinels']} other sentinel(s), {text['num-slaves']} replica(s)"
    )
    return Health(True, "sentinel", detail)


def sentinel_master(port: int, service: str, password: str | None) -> tuple[str, int] | None:
    """The master address this sentinel names for the service (None if it does not answer)."""
    client = redis_client(port, password)
    try:
        address = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", service)
    except redis.RedisError:
        return None
    finally:
        client.close()
    if not address:
        return None
    return _text(address[0]), int(address[1])


def sentinel_peers(port: int, service: str, password: str | None) -> tuple[int, int]:
    """(other sentinels, replicas) this sentinel knows of; (-1, -1) if it does not answer."""
    client = redis_client(port, password)
    try:
        sentinels = client.execute_command("SENTINEL", "SENTINELS", service)
        replicas = client.execute_command("SENTINEL", "REPLICAS", service)
    except redis.RedisError:
        return -1, -1
    finally:
        client.close()
    assert sentinels is not None  # lists, maybe empty, never None
    assert replicas is not None
    return len(sentinels), len(replicas)


def mongo(port: int) -> Health:
    try:
        socket.create_connection((HOST, port), timeout=0.5).close()
        with pymongo.MongoClient(
            HOST, port, directConnection=True, serverSelectionTimeoutMS=1000, connectTimeoutMS=500
        ) as client:
            client.admin.command("ping")
    except (OSError, pymongo.errors.PyMongoError) as error:
        return Health(False, detail=str(error).splitlines()[0][:120])
    return Health(True, "mongodb-wire")


def http_get(port: int, path: str, timeout: float = 2) -> tuple[int, dict | None]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/json"})
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    return response.status, body if isinstance(body, dict) else None


def app(port: int) -> Health:
    try:
        status, body = http_get(port, "/readyz")
    except (OSError, http.client.HTTPException) as error:
        return Health(False, detail=str(error))
    stores = ", ".join(f"{k} {v}" for k, v in (body or {}).items())
    return Health(status == 200, "gunicorn", f"/readyz {status}: {stores}")


def haproxy_stats(stats_socket: str, timeout: float = 1) -> list[dict[str, str]]:
    """``show stat`` as rows (pxname, svname, status, scur, stot, ...)."""
    return [
        dict(row)
        for row in csv.DictReader(
            io.StringIO(haproxy_command(stats_socket, "show stat", timeout).lstrip("# "))
        )
    ]


def haproxy_command(stats_socket: str, command: str, timeout: float = 1) -> str:
    """One command on HAProxy's admin socket; its whole answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(stats_socket)
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def haproxy(port: int, stats_socket: str, backend: str) -> Health:
    try:
        socket.create_connection((HOST, port), timeout=0.5).close()
        rows = haproxy_stats(stats_socket)
    except OSError as error:
        return Health(False, detail=str(error))
    servers = [
        f"{row['svname']} {row['status']}"
        for row in rows
        if row["pxname"] == backend and row["svname"] not in ("FRONTEND", "BACKEND")
    ]
    return Health(True, "front door", ", ".join(servers))


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
