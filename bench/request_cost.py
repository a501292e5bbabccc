"""The app's own cost of one request, in-process: CPU and wall time per request, by path.

    uv run --group bench python bench/request_cost.py            # MariaDB + a Redis of its own
    uv run --group bench python bench/request_cost.py --repeat 5 --requests 2000
    uv run --group bench python bench/request_cost.py --tracing 1    # and 0.1: sampled share

No server, no wrk, no queueing: Flask's test client sends the same request N
times in this process, on a throw-away database of the MariaDB on
127.0.0.1:3306 and a redis-server of its own (seeded like bench/run.py, 300
users and 2,000 articles by default). For each path it prints the best of
``--repeat`` runs of this process's CPU time (``time.process_time``) and wall
time per request: on a machine shared with other work, the CPU time of the app's
own process moves far less than requests/s do. MariaDB's and Redis' own CPU time
is not in it (the wall time includes their round trips). ``--tracing RATIO`` turns
tracing on (OTEL_TRACES_SAMPLER=parentbased_traceidratio at that ratio), exporting
over OTLP/HTTP to a sink in another process (``testkit.otlp``), so the exporter's
thread counts in this process's CPU time and the sink's does not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mixed  # bench/mixed.py: its app settings and process helpers
import run as bench  # bench/run.py: free ports

# An OTLP/HTTP sink until its stdin closes; then how many exports and bytes it received.
SINK = """
import sys
from testkit.otlp import OtlpReceiver
with OtlpReceiver.running(decode=False) as sink:
    print(sink.endpoint, flush=True)
    sys.stdin.read()
print(f"sink: {sink.requests} exports, {sink.bytes // 1024} KiB", file=sys.stderr)
"""

PATHS = ("/api/tags", "/api/articles/{slug}", "/api/profiles/{username}", "/api/articles")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="per path and run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--tracing", type=float, metavar="RATIO", help="trace this share")
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:8]
    database = f"imflask_cost_{run_id}"
    workdir = Path(tempfile.mkdtemp(prefix="imflask-cost-"))
    port = bench._free_port()
    redis_server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", mixed.HOST, "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    with pymysql.connect(host=mixed.HOST, user="root") as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {database} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    os.environ.update(
        FLASK_CONFIG="development",
        FLASK_INSTANCE_PATH=str(workdir / "instance"),
        FLASK_AUTO_MIGRATE="1",
        FLASK_MYSQL_URI=f"mysql://root@{mixed.HOST}:3306/{database}",
        FLASK_REDIS_URL=f"redis://{mixed.HOST}:{port}/0",
        **mixed.APP_ENV,
    )
    sink = None
    if args.tracing is not None:
        sink = subprocess.Popen(
            [sys.executable, "-c", SINK], cwd=mixed.ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        assert sink.stdout is not None
        os.environ.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=sink.stdout.readline().strip(),
            OTEL_TRACES_SAMPLER="parentbased_traceidratio",
            OTEL_TRACES_SAMPLER_ARG=str(args.tracing),
        )
    try:
        mixed._wait_for_port(port)
        measure(args)
    finally:
        if sink is not None:
            from imflask_core import tracing

            tracing.stop()  # the last spans exported while the sink still listens
            sink.communicate("", timeout=30)  # its stdin closes: it prints what it got

        subprocess.run([str(mixed.BIN / "flask"), "embedded", "stop"], cwd=mixed.ROOT,
                       capture_output=True, env=os.environ)  # fmt: skip
        mixed._stop(redis_server)
        shutil.rmtree(workdir, ignore_errors=True)
        with pymysql.connect(host=mixed.HOST, user="root") as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {database}")


def measure(args) -> None:
    from imflask_app import create_app
    from imflask_controllers import seeding, tokens

    app = create_app()
    ctx = app.extensions["imflask.context"]
    seeding.seed(ctx, seeding.SeedPlan(users=args.users, articles=args.articles))
    with ctx.stores.sql.connection() as conn:
        user_id, username = conn.one("SELECT id, username FROM users ORDER BY id LIMIT 1").values()
        slug = conn.scalar("SELECT slug FROM articles ORDER BY id DESC LIMIT 1")
    token = tokens.mint_access_token(
        secret=ctx.settings.secret_key, user_id=user_id, ttl_seconds=3600
    )
    client = app.test_client()
    cases = [(path, who) for path in PATHS for who in ("anonymous", "signed in")]
    print(f"{'request':44}{'CPU ms':>9}{'wall ms':>9}   (best of {args.repeat} x {args.requests})")
    for path, who in cases:
        url = path.format(slug=slug, username=username)
        headers = {"Authorization": f"Token {token}"} if who == "signed in" else {}
        for _ in range(50):  # warm the caches and pools
            assert client.get(url, headers=headers).status_code == 200
        best_cpu = best_wall = float("inf")
        for _ in range(args.repeat):
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(args.requests):
                client.get(url, headers=headers)
            best_cpu = min(best_cpu, (time.process_time() - cpu) / args.requests)
            best_wall = min(best_wall, (time.perf_counter() - wall) / args.requests)
        print(f"{path + ', ' + who:44}{1000 * best_cpu:9.3f}{1000 * best_wall:9.3f}", flush=True)
    ctx.close()


if __name__ == "__main__":
    main()
