"""Load-test IMFlask's read endpoints and login next to a minimal Flask app.

    uv run --group bench python bench/run.py --store sqlite
    uv run --group bench python bench/run.py --store mysql --server gunicorn granian
    uv run --group bench python bench/run.py --store mysql --tracing off 1 0.1

Seeds a data set through the models (default 1,000 users, 10,000 articles, 3
tags each, 20 follows and 30 favorites per user) into fresh stores, serves
the app and a "hello" app with the same server settings (4 sync gunicorn
workers, or 4 granian workers), drives each endpoint with wrk (-t2 -c32) and
prints requests/s, p50/p99, non-2xx responses, the ratio to hello, and the
resident memory per worker. Everything runs on this machine, against
127.0.0.1 only; wrk and the servers share its cores, so compare ratios from
one run rather than absolute numbers across runs.

``--tracing off 1 0.1`` serves the app once per mode, in that order: tracing off,
then on with OTEL_TRACES_SAMPLER=parentbased_traceidratio and that
OTEL_TRACES_SAMPLER_ARG, exporting over OTLP/HTTP to a sink on 127.0.0.1 in this
process (it counts what it is sent and decodes nothing); it prints each endpoint's
requests/s in every mode and its ratio to the first ``off``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import pymysql

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
from testkit.otlp import OtlpReceiver  # noqa: E402 - the tracing sink, from the repo's root

MYSQL_SERVER = "mysql://root@127.0.0.1:3306"
REDIS_SERVER = "redis://127.0.0.1:6379/0"


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "mysql"], default="sqlite")
    parser.add_argument(
        "--server", nargs="+", choices=["gunicorn", "granian"], default=["gunicorn"]
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--tracing",
        nargs="+",
        metavar="MODE",
        help="serve the app once per mode: off, or the share of traces sampled (1, 0.1)",
    )
    args = parser.parse_args()
    for mode in args.tracing or ():
        if mode != "off" and not 0 < float(mode) <= 1:
            parser.error(f"--tracing {mode}: off, or a ratio above 0 and at most 1")
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")

    run_id = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix="imflask-bench-"))
    env = _environment(args.store, run_id, workdir)
    try:
        fixtures = _seed(env, args.users, args.articles)
        _wait_until_idle()  # the stores flush and purge after a bulk load
        report = {"store": args.store, "seeded": fixtures["report"], "servers": {}}
        for server in args.server:
            if args.tracing:
                report["servers"][server] = _measure_tracing(server, env, fixtures, args)
            else:
                report["servers"][server] = _measure_server(server, env, fixtures, args)
        _print(report)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
    finally:
        _cleanup(args.store, run_id, env, workdir)


def _environment(store: str, run_id: str, workdir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "FLASK_CONFIG": "development",
        "FLASK_INSTANCE_PATH": str(workdir / "instance"),
        "FLASK_LOG_LEVEL": "WARNING",
        "FLASK_AUTO_MIGRATE": "1",
        # The limiter stays on (its Redis round trip is part of the cost) but never trips.
        "FLASK_RATE_LIMIT_AUTH": "100000000/60",
        "FLASK_RATE_LIMIT_WRITES": "100000000/60",
        "PYTHONUNBUFFERED": "1",
    }
    if store == "mysql":
        env.update(throwaway_mysql_and_redis(run_id))
    return env


def throwaway_mysql_and_redis(run_id: str) -> dict[str, str]:
    """A fresh database on the shared MariaDB and a key prefix of the run's own on the
    shared Redis (dropped and deleted by the caller at the end), as FLASK_* variables."""
    with pymysql.connect(host="127.0.0.1", user="root") as conn, conn.cursor() as cursor:
        cursor.execute(
            f"CREATE DATABASE imflask_bench_{run_id} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        )
    return {
        "FLASK_MYSQL_URI": f"{MYSQL_SERVER}/imflask_bench_{run_id}",
        "FLASK_REDIS_URL": REDIS_SERVER,
        "FLASK_REDIS_KEY_PREFIX": f"imflask_bench_{run_id}:",
    }


def _seed(env: dict[str, str], users: int, articles: int) -> dict:
    """Seed in a child process (the same code path as `flask db seed`), return fixtures."""
    code = f"""
import json, time
from imflask_controllers import seeding, users as accounts
from imflask_models.mysql import articles, users
from imflask_controllers.context import bootstrap
ctx = bootstrap()  # as the app starts its stores, without the app
started = time.perf_counter()
report = seeding.seed(ctx, seeding.SeedPlan(users={users}, articles={articles}))
took = time.perf_counter() - started
with ctx.stores.sql.connection() as conn:
    slug = conn.scalar("SELECT slug FROM articles ORDER BY id LIMIT 1")
    email = conn.scalar("SELECT email FROM users ORDER BY id LIMIT 1")
    username = conn.scalar("SELECT username FROM users ORDER BY id LIMIT 1")
token = accounts.log_in(ctx, email=email, password=seeding.SEED_PASSWORD, client_ip="bench").token
print(json.dumps({{"report": {{**vars(report), "seconds": round(took, 1)}}, "slug": slug,
                  "email": email, "username": username, "token": token}}))
"""
    print(f"seeding {users} users and {articles} articles...", flush=True)
    return seed_in_subprocess(code, env)


def seed_in_subprocess(code: str, env: dict[str, str], indent: str = "") -> dict:
    """Run a seeding script (its last stdout line is JSON with a "report") in a fresh
    interpreter with ``env``; exit with its stderr if it fails."""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if out.returncode != 0:
        sys.exit(f"seeding failed:\n{out.stderr}")
    fixtures = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{indent}seeded: {fixtures['report']}", flush=True)
    return fixtures


def _endpoints(fixtures: dict) -> list[tuple[str, str, str | None, str | None]]:
    auth = f"Authorization: Token {fixtures['token']}"
    login_body = json.dumps({"user": {"email": fixtures["email"], "password": "password"}})
    return [
        ("article list", "/api/articles?limit=20", None, None),
        ("article list offset 5000", "/api/articles?limit=20&offset=5000", None, None),
        ("article by slug", f"/api/articles/{fixtures['slug']}", None, None),
        ("tags", "/api/tags", None, None),
        ("profile", f"/api/profiles/{fixtures['username']}", None, None),
        ("feed", "/api/articles/feed?limit=20", auth, None),
        ("login", "/api/users/login", None, login_body),
    ]


def _measure_server(server: str, env: dict[str, str], fixtures: dict, args) -> dict:
    endpoints = _endpoints(fixtures)
    results = {}
    with _serve(server, "hello:app", env, args.workers, cwd=ROOT / "bench") as (port, _):
        _wrk("hello", f"http://127.0.0.1:{port}/", 2)  # warm-up, as for every endpoint
        hello = _wrk("hello", f"http://127.0.0.1:{port}/", args.duration)
    results["hello"] = vars(hello)
    with _serve(server, "imflask_app.wsgi:app", env, args.workers, cwd=ROOT) as (port, master):
        rss = {}
        for name, path, header, body in endpoints:
            if name == "login":  # argon2 holds 64 MiB while it hashes: measure before too
                rss["after reads"] = _idle_rss(master)
            url = f"http://127.0.0.1:{port}{path}"
            _wrk(name, url, 2, header=header, body=body)  # warm-up: caches, pools
            result = _wrk(name, url, args.duration, header=header, body=body)
            results[name] = {**vars(result), "ratio_to_hello": round(result.rps / hello.rps, 3)}
        rss["after logins"] = _idle_rss(master)
    return {"results": results, "worker_rss_mb": rss}


def _measure_tracing(server: str, env: dict[str, str], fixtures: dict, args) -> dict:
    """The app once per ``--tracing`` mode, each endpoint as ``_measure_server`` drives it."""
    modes: dict[str, dict] = {}
    with OtlpReceiver.running(decode=False) as sink:
        for mode in args.tracing:
            name = mode if mode == "off" else f"{float(mode):g}"
            earlier = sum(1 for known in modes if known.partition(" (")[0] == name)
            name += f" ({earlier + 1})" if earlier else ""
            traced = {**env, "OTEL_SDK_DISABLED": "true"}
            if mode != "off":
                traced = {
                    **env,
                    "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
                    "OTEL_SERVICE_NAME": "imflask-bench",
                    "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                    "OTEL_TRACES_SAMPLER_ARG": mode,
                }
            print(f"{server}, tracing {name}:", flush=True)
            exported = sink.requests, sink.bytes
            results = {}
            with _serve(server, "imflask_app.wsgi:app", traced, args.workers, cwd=ROOT) as (
                port,
                _,
            ):
                for endpoint, path, header, body in _endpoints(fixtures):
                    url = f"http://127.0.0.1:{port}{path}"
                    _wrk(endpoint, url, 2, header=header, body=body)
                    results[endpoint] = vars(_wrk(endpoint, url, args.duration, header, body))
            modes[name] = {
                "results": results,
                "exports": sink.requests - exported[0],
                "exported_kib": round((sink.bytes - exported[1]) / 1024),
            }
    return {"tracing": modes}


def _wait_until_idle(seconds: int = 60) -> None:
    """Let the machine settle (below 15% CPU) before measuring, for at most ``seconds``."""
    for _ in range(seconds):
        if psutil.cpu_percent(interval=1.0) < 15:
            return


def _idle_rss(master: int) -> list[float]:
    """Each worker's resident memory once it has finished the requests still queued."""
    processes = psutil.Process(master).children()
    for p in processes:
        p.cpu_percent(interval=None)  # the first call only sets the baseline
    for _ in range(60):
        time.sleep(1.0)
        if all(p.cpu_percent(interval=None) < 2 for p in processes):
            break
    return [round(p.memory_info().rss / 2**20, 1) for p in processes]


class _serve:
    """Run a server with N workers on a free port until the block ends."""

    def __init__(self, server: str, target: str, env: dict, workers: int, cwd: Path):
        self.port = _free_port()
        if server == "gunicorn":
            # The production settings (gunicorn.conf.py: Prometheus' multiprocess mode...),
            # with this run's workers and port.
            self.argv = [
                str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"),
                "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
                "--log-level", "warning", "--backlog", "2048", target,
            ]  # fmt: skip
        else:
            self.argv = [
                str(BIN / "granian"), "--interface", "wsgi", "--workers", str(workers),
                "--blocking-threads", "1", "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "warning", target,
            ]  # fmt: skip
        self.env, self.cwd, self.workers = env, cwd, workers

    def __enter__(self) -> tuple[int, int]:
        """The port, and the server's pid (its children are the workers)."""
        self.process = subprocess.Popen(
            self.argv, env=self.env, cwd=self.cwd, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = psutil.Process(self.process.pid).children(recursive=False)
            if _answers(self.port) and len(workers) >= self.workers:
                time.sleep(1.0)  # let every worker finish importing the app
                return self.port, self.process.pid
            time.sleep(0.2)
        self.process.kill()
        raise RuntimeError(f"{self.argv[0]} did not start")

    def __exit__(self, *exc) -> None:
        """Stop the server and every worker it forked (its whole process group)."""
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        time.sleep(1)  # workers finish their last request and exit
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


# Prints the first body of each non-2xx status, so a failure says what it was.
STATUS_LUA = """
local seen = {}
response = function(status, headers, body)
  if status >= 300 and not seen[status] then
    seen[status] = true
    io.write("non-2xx " .. status .. ": " .. string.sub(body or "", 1, 200) .. "\\n")
  end
end
"""


def _wrk(name: str, url: str, seconds: int, header=None, body=None) -> Result:
    if body is None:
        argv = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", url]
    else:  # a login hashes for ~0.1 s on purpose: 8 connections, and time to answer
        argv = ["wrk", "-t2", "-c8", "--timeout", "20s", f"-d{seconds}s", "--latency", url]
    if header:
        argv += ["-H", header]
    lua = STATUS_LUA
    if body is not None:
        lua += (
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(body)}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(lua)
        script.flush()
        out = subprocess.run(
            [*argv, "-s", script.name], capture_output=True, text=True, check=True
        ).stdout
    for line in out.splitlines():
        if line.startswith("non-2xx") and seconds > 2:
            print(f"  {name}: {line}", flush=True)
    result = Result(
        name=name,
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p50_ms=_latency_ms(out, "50%"),
        p99_ms=_latency_ms(out, "99%"),
        non_2xx=int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0,
        errors=sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)),
    )
    if seconds > 2:
        print(
            f"  {name:26} {result.rps:9.1f} req/s  p50 {result.p50_ms:7.2f} ms"
            f"  p99 {result.p99_ms:7.2f} ms  non-2xx {result.non_2xx}",
            flush=True,
        )
    return result


def _latency_ms(out: str, percentile: str) -> float:
    match = re.search(rf"^\s+{re.escape(percentile)}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def _print(report: dict) -> None:
    print(f"\nstore: {report['store']}   seeded: {report['seeded']}")
    for server, data in report["servers"].items():
        if "tracing" in data:
            _print_tracing(server, data["tracing"])
            continue
        print(f"\n{server}, wrk -t2 -c32")
        print(f"{'endpoint':28}{'req/s':>9}{'x hello':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
        for name, r in data["results"].items():
            ratio = r.get("ratio_to_hello", 1.0)
            print(
                f"{name:28}{r['rps']:9.1f}{ratio:9.2f}{r['p50_ms']:9.2f}{r['p99_ms']:9.2f}"
                f"{r['non_2xx'] + r['errors']:9d}"
            )
        for when, sizes in data["worker_rss_mb"].items():
            print(f"resident memory per worker, MB, {when}: {sizes}")


def _print_tracing(server: str, modes: dict) -> None:
    """Requests/s per endpoint in each mode, and the ratio to the first ``off``."""
    names = list(modes)
    base = modes[names[0]]["results"]
    print(f"\n{server}, wrk -t2 -c32: req/s (x the first {names[0]}) per tracing mode")
    print(f"{'endpoint':26}" + "".join(f"{name:>18}" for name in names))
    for endpoint in base:
        cells = []
        for name in names:
            r = modes[name]["results"][endpoint]
            first = base[endpoint]["rps"]
            ratio = f"{r['rps'] / first:4.2f}" if first else "  - "
            cells.append(f"{r['rps']:9.1f} ({ratio})")
        print(f"{endpoint:26}" + "".join(f"{cell:>18}" for cell in cells))
    print("exports to the sink (KiB): " + ", ".join(
        f"{name}: {data['exports']} ({data['exported_kib']})" for name, data in modes.items()
    ))  # fmt: skip


def _cleanup(store: str, run_id: str, env: dict[str, str], workdir: Path) -> None:
    subprocess.run([str(BIN / "flask"), "embedded", "stop"], env=env, cwd=ROOT, capture_output=True)
    if store == "mysql":
        with pymysql.connect(host="127.0.0.1", user="root") as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS imflask_bench_{run_id}")
        import redis

        client = redis.Redis.from_url(REDIS_SERVER)
        for key in client.scan_iter(match=f"imflask_bench_{run_id}:*", count=1000):
            client.delete(key)
    shutil.rmtree(workdir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
