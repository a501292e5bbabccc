"""``imflask-cluster up|status|env|kill|start|stop|restart|down DIR``."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict

from imflask_cluster.binaries import MissingBinary
from imflask_cluster.cluster import Cluster
from imflask_cluster.errors import ClusterError
from imflask_cluster.layout import Options

DESCRIPTION = """\
IMFlask's reference topology on this machine, from Debian's packages: HAProxy in front of
gunicorn instances (production config), a MariaDB primary and GTID replicas, a Redis master
and a replica watched by three sentinels (all with passwords), a MongoDB-wire daemon
(SecantusDB) and workers.
Every node listens on a free port of 127.0.0.1 and keeps its data and node.log under DIR."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imflask-cluster", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser(
        "up", help="start the cluster (created on first use) and print its environment"
    )
    up.add_argument("dir")
    up.add_argument("--instances", type=int, default=3, help="gunicorn instances (3)")
    up.add_argument(
        "--mysql-replicas", type=int, default=1,
        help="MariaDB replicas (1): mysql-replica, mysql-replica2, ...",
    )  # fmt: skip
    up.add_argument("--gunicorn-workers", type=int, default=2, help="sync workers per instance (2)")
    up.add_argument("--workers", type=int, default=2, help="imflask-worker processes (2)")
    up.add_argument("--gunicorn-config", help="default: gunicorn.conf.py of this checkout")
    up.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE",
        help="one more variable for the app and the workers (repeatable)",
    )  # fmt: skip
    status = commands.add_parser("status", help="every node: running, answering, role, lag")
    status.add_argument("dir")
    status.add_argument("--json", action="store_true", help="one JSON object per node")
    env = commands.add_parser("env", help="print the FLASK_* environment that reaches the cluster")
    env.add_argument("dir")
    for name, text in (
        ("kill", "SIGKILL one node"),
        ("stop", "SIGTERM one node and wait for it to exit"),
        ("start", "start one node again and wait until it answers"),
        ("restart", "stop and start one node (an app instance is drained in HAProxy first)"),
    ):
        one = commands.add_parser(name, help=text)
        one.add_argument("dir")
        one.add_argument("node", help="e.g. app1, mysql-replica, redis1, sentinel2, worker1")
    down = commands.add_parser("down", help="stop every node it started (data stays in DIR)")
    down.add_argument("dir")

    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (ClusterError, MissingBinary, FileNotFoundError, ValueError) as error:
        print(f"imflask-cluster: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "up":
        extra = dict(_assignment(item) for item in args.env)
        options = Options(
            instances=args.instances, mysql_replicas=args.mysql_replicas,
            gunicorn_workers=args.gunicorn_workers,
            workers=args.workers, gunicorn_config=args.gunicorn_config or "", extra_env=extra,
        )  # fmt: skip
        cluster = Cluster.up(args.dir, options, progress=_progress)
        print(f"# imflask-cluster up in {cluster.state['up_seconds']} s: {cluster.url}/")
        print(f"# `imflask-cluster status {args.dir}` shows it, `... down {args.dir}` ends it")
        _print_environment(cluster)
        return 0
    cluster = Cluster.open(args.dir)
    if args.command == "status":
        rows = cluster.status()
        if args.json:
            for row in rows:
                print(json.dumps(asdict(row)))
        else:
            _print_table(cluster, rows)
        return 0 if all(row.up for row in rows) else 3
    if args.command == "env":
        _print_environment(cluster)
    elif args.command == "kill":
        cluster.kill(args.node)
    elif args.command == "stop":
        if not cluster.stop(args.node):
            print(f"{args.node} did not exit on SIGTERM in time: killed", file=sys.stderr)
    elif args.command == "start":
        cluster.start(args.node)
    elif args.command == "restart":
        cluster.restart(args.node)
    elif args.command == "down":
        cluster.down()
    return 0


def _print_environment(cluster: Cluster) -> None:
    print(f"export IMFLASK_CLUSTER_URL={shlex.quote(cluster.url)}")
    for name, value in cluster.environment.items():
        print(f"export {name}={shlex.quote(value)}")


def _print_table(cluster: Cluster, rows) -> None:
    print(f"front door {cluster.url}/  ({cluster.folder})")
    print(f"{'node':<14} {'state':<6} {'pid':>7} {'port':>6}  {'role':<18} detail")
    for row in rows:
        state = "up" if row.up else ("fail" if row.running else "down")
        pid = str(row.pid) if row.pid else "-"
        port = str(row.port) if row.port else "-"
        print(f"{row.name:<14} {state:<6} {pid:>7} {port:>6}  {row.role or '-':<18} {row.detail}")


def _assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ValueError(f"--env {text!r} must look like NAME=VALUE")
    return name, value


def _progress(message: str) -> None:
    print(f"imflask-cluster: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
