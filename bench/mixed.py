"""Issue 10's mixed read/write load, through the cluster's front door and against one instance.

    uv run --group bench python bench/mixed.py                       # both targets
    uv run --group bench python bench/mixed.py --target instance --duration 10

For each target it seeds fresh stores (default 1,000 users, 10,000 articles,
as bench/run.py), signs 200 of them in (the access token a login issues,
minted with the app's secret: 200 argon2 logins take a minute on this
machine; each token is checked through the target's /api/user), then
measures in one run, each with wrk -t2 -c64 after a warm-up:

- hello: bench/hello.py with the same server settings (and, for the cluster,
  behind the same HAProxy configuration);
- the read-only article list (``/api/articles?limit=20``, anonymous);
- the mixed workload (bench/mixed.lua): 90% reads (list 40%, article 30%,
  profile 10%, tags 10%) and 10% writes (favorite or unfavorite 7%, a new
  article 2%, a comment 1%), each from a random signed-in user of the 200;
- the same reads signed in, without the writes (what the writes cost the reads).

Targets: ``cluster`` runs ``imflask-cluster up`` in a temporary folder (HAProxy,
3 instances of 2 sync workers, MariaDB primary + replica, Redis + sentinels,
SecantusDB, 2 workers); ``instance`` is one gunicorn (gunicorn.conf.py, 4 sync
workers) on a throw-away database of the MariaDB on 127.0.0.1:3306 and a
redis-server of its own. The list cache's hit rate is counted from Redis
itself: keyspace notifications of every SET, on a Redis only this run uses.
Prints a table and writes JSON (``--json``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pymysql
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # bench/run.py: the server runner, wrk's latency parsing

ROOT = bench.ROOT
BIN = bench.BIN
LUA = Path(__file__).resolve().parent / "mixed.lua"
HOST = "127.0.0.1"
LIST_PATH = "/api/articles?limit=20"
LIST_CACHE_KEYS = "cache:article-lists:"  # every miss SETs one such key (cache.cached)
READ_KINDS = ("list", "article", "profile", "tags")
WRITE_KINDS = ("favorite", "new-article", "comment")
READS_ONLY = (40 / 0.9, 30 / 0.9, 10 / 0.9, 10 / 0.9, 0, 0, 0)  # the mix's reads, to 100%
DRAIN = 2.0  # seconds for a server to finish the requests of a wrk that has stopped
NEVER_LIMITED = "100000000/60"  # the limiter still runs (its Redis round trip) but never trips
# imflask_replica_reads_total{served_by="..."} of an instance's /metrics: where reads.read ran.
REPLICA_READS = re.compile(r'^imflask_replica_reads_total\{served_by="([^"]+)"\} (\S+)$')
# The statements each MariaDB of the cluster counts, reported per request (Com_*).
MYSQL_COUNTERS = ("Questions", "Com_select", "Com_insert", "Com_update", "Com_delete",
                  "Com_commit", "Com_begin", "Com_show_slave_status", "Com_set_option")  # fmt: skip
APP_ENV = {
    "FLASK_LOG_LEVEL": "WARNING",
    "FLASK_RATE_LIMIT_AUTH": NEVER_LIMITED,
    "FLASK_RATE_LIMIT_WRITES": NEVER_LIMITED,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--target", nargs="+", choices=["cluster", "instance"], default=["cluster", "instance"]
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--pool", type=int, default=200, help="signed-in users")
    parser.add_argument("--slugs", type=int, default=1000, help="newest articles read and written")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=12, help="seconds per phase")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each phase")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (instance)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="(list, mixed) pairs: their ratios' median"
    )
    parser.add_argument(
        "--cluster-gunicorn-workers", type=int, help="sync workers per cluster instance"
    )
    parser.add_argument("--json", type=Path, help="default: /tmp/imflask-mixed-<run>.json")
    args = parser.parse_args()
    # SIGTERM (a timeout, a kill) ends the run through the cleanups, like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")
    run_id = uuid.uuid4().hex[:8]
    report = {"run": run_id, "mix": describe_mix(), "options": vars(args) | {"json": None}}
    report["targets"] = {}
    for name in args.target:
        target = Cluster(run_id, args) if name == "cluster" else Instance(run_id, args)
        with target:
            report["targets"][name] = measure(target, args, run_id)
        print_target(name, report["targets"][name])
    path = args.json or Path(tempfile.gettempdir()) / f"imflask-mixed-{run_id}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nJSON: {path}")


def describe_mix() -> dict:
    return {
        "reads": {"list": 40, "article": 30, "profile": 10, "tags": 10},
        "writes": {"favorite or unfavorite": 7, "new article": 2, "comment": 1},
        "lists": "home 50%, offset 20-80 10%, tag 20%, author 7%, favorited 5%, feed 8%",
    }


# --- the two targets ------------------------------------------------------------------------


class Instance:
    """One gunicorn instance on a throw-away MariaDB database and a Redis of its own."""

    def __init__(self, run_id: str, args):
        self.run_id, self.args = run_id, args
        self.workdir = Path(tempfile.mkdtemp(prefix="imflask-mixed-"))
        self.database = f"imflask_mixed_{run_id}"

    def __enter__(self) -> Instance:
        self.redis_port = bench._free_port()
        self.redis_process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--notify-keyspace-events",
                "E$",
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for_port(self.redis_port)
        with pymysql.connect(host=HOST, user="root") as conn, conn.cursor() as cursor:
            cursor.execute(
                f"CREATE DATABASE {self.database} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )
        self.redis_url = f"redis://{HOST}:{self.redis_port}/0"
        self.env = {
            **_without_flask(os.environ),
            "FLASK_CONFIG": "development",
            "FLASK_INSTANCE_PATH": str(self.workdir / "instance"),
            "FLASK_AUTO_MIGRATE": "1",
            "FLASK_MYSQL_URI": f"mysql://root@{HOST}:3306/{self.database}",
            "FLASK_REDIS_URL": self.redis_url,
            "FLASK_JOBS_INLINE": "0",  # as in production: a worker runs the fan-out
            "PYTHONUNBUFFERED": "1",
            **APP_ENV,
        }
        self.shape = f"1 gunicorn instance, {self.args.workers} sync workers, 1 imflask-worker"
        self.worker = None
        self.sessions: set[int] | None = None  # the app's processes, while it runs
        return self

    @contextlib.contextmanager
    def app(self):
        """The instance and a worker for its jobs (started after seeding made the schema)."""
        self.worker = subprocess.Popen([str(BIN / "imflask-worker")], env=self.env, cwd=ROOT,
                                       start_new_session=True)  # fmt: skip
        with bench._serve("gunicorn", "imflask_app.wsgi:app", self.env, self.args.workers,
                          cwd=ROOT) as (port, master):  # fmt: skip
            self.sessions = {master, self.worker.pid, self.redis_process.pid}
            yield f"http://{HOST}:{port}"
        self.sessions = None

    def cpu_seconds(self) -> dict[str, float] | None:
        """CPU time used so far by the app's processes: gunicorn and its workers, the
        imflask-worker, this run's redis-server and embedded MongoDB-wire daemon (not the
        shared MariaDB)."""
        if not self.sessions:
            return None
        return {"app": _cpu_seconds(self.sessions, str(self.workdir))}

    def counters(self) -> None:
        return None  # the MariaDB is shared: its counters are everyone's

    @contextlib.contextmanager
    def hello(self):
        with bench._serve("gunicorn", "hello:app", self.env, self.args.workers,
                          cwd=ROOT / "bench") as (port, _):  # fmt: skip
            yield f"http://{HOST}:{port}"

    def wait_for_replicas(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        with contextlib.ExitStack() as cleanup:  # every step, even if one fails
            cleanup.callback(shutil.rmtree, self.workdir, ignore_errors=True)
            cleanup.callback(_stop, self.redis_process)
            cleanup.callback(self._drop_database)
            cleanup.callback(subprocess.run, [str(BIN / "flask"), "embedded", "stop"],
                             env=self.env, cwd=ROOT, capture_output=True)  # fmt: skip
            if self.worker is not None:
                cleanup.callback(_stop, self.worker)

    def _drop_database(self) -> None:
        with pymysql.connect(host=HOST, user="root") as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {self.database}")


class Cluster:
    """``imflask-cluster up`` in a temporary folder; its front door; ``down`` at the end."""

    def __init__(self, run_id: str, args):
        self.run_id, self.args = run_id, args
        self.folder = Path(tempfile.mkdtemp(prefix="imfm-", dir="/tmp"))  # short: unix sockets

    def __enter__(self) -> Cluster:
        from imflask_cluster.cluster import Cluster as Topology

        command = [str(BIN / "imflask-cluster"), "up", str(self.folder)]
        if self.args.cluster_gunicorn_workers:
            command += ["--gunicorn-workers", str(self.args.cluster_gunicorn_workers)]
        for name, value in APP_ENV.items():
            command += ["--env", f"{name}={value}"]
        print(f"imflask-cluster up {self.folder} ...", flush=True)
        began = time.monotonic()
        try:  # anything failing here has no __exit__ to take the cluster down
            subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            print(f"  up in {time.monotonic() - began:.1f} s", flush=True)
            self.topology = Topology.open(self.folder)
            self.url = self.topology.url
            self.env = {**_without_flask(os.environ), **self.topology.environment,
                        "PYTHONUNBUFFERED": "1", **APP_ENV}  # fmt: skip
            self.redis_url = self._redis_master_url()
            options = self.topology.state["options"]
            self.instances, self.workers = options["instances"], options["gunicorn_workers"]
        except BaseException:
            self._down()
            raise
        self.shape = f"HAProxy -> {self.instances} gunicorn instances x {self.workers} sync workers"
        return self

    def _redis_master_url(self) -> str:
        """The Redis master's URL: the app finds it through the sentinels (no FLASK_REDIS_URL)."""
        env = self.topology.environment
        if "FLASK_REDIS_URL" in env:
            return env["FLASK_REDIS_URL"]
        password = urllib.parse.quote(env.get("FLASK_REDIS_PW", ""), safe="")
        port = self.topology.redis_master_port()
        return f"redis://:{password}@{HOST}:{port}/{env.get('FLASK_REDIS_DB', '0')}"

    @contextlib.contextmanager
    def app(self):
        yield self.url

    @contextlib.contextmanager
    def hello(self):
        """hello on as many instances and workers, behind the same HAProxy configuration."""
        from imflask_cluster import layout
        from imflask_cluster.nodes import Node

        with contextlib.ExitStack() as stack:
            instances = []
            for i in range(1, self.instances + 1):
                port, _ = stack.enter_context(
                    bench._serve(
                        "gunicorn", "hello:app", self.env, self.workers, cwd=ROOT / "bench"
                    )
                )
                instances.append(Node(f"hello{i}", "app", str(self.folder), [], port=port))
            folder = self.folder / "hello-haproxy"
            folder.mkdir(exist_ok=True)
            door = Node("haproxy", "haproxy", str(folder), [], port=bench._free_port())
            config = folder / "haproxy.cfg"
            config.write_text(layout.haproxy_config(door, instances, self.workers))
            log = (folder / "node.log").open("w")
            process = subprocess.Popen(
                ["haproxy", "-db", "-f", str(config)], stdout=log, stderr=log,
                start_new_session=True,
            )  # fmt: skip
            stack.callback(log.close)
            stack.callback(_stop, process)
            url = f"http://{HOST}:{door.port}"
            _wait_for_ok(url + "/")
            yield url

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by each part of the cluster: every node's session (a
        gunicorn instance with its workers), summed by part (``app``, ``mysql-primary``,
        ``mysql-replica``, ``redis``, ``sentinel``, ``mongo``, ``worker``, ``haproxy``)."""
        parts = {
            node.pid: node.name if node.kind == "mysql" else node.kind
            for node in self.topology.nodes.values()
            if node.pid
        }
        return _cpu_by_session(parts)

    def counters(self) -> dict[str, int]:
        """Commands run so far: Redis master's ``INFO commandstats`` calls (``redis:get``),
        each MariaDB's statement counters (``mysql-primary:select``) and where the app's
        replica-eligible reads ran (``reads:replica``, ``reads:primary-behind``...)."""
        found: dict[str, int] = {}
        client = redis.Redis.from_url(self.redis_url)
        try:
            for name, stats in client.info("commandstats").items():
                found["redis:" + name.removeprefix("cmdstat_")] = int(stats["calls"])
        finally:
            client.close()
        for node in self.topology.of_kind("app"):  # straight to each instance: all of its workers
            url = f"http://{HOST}:{node.port}/metrics"
            with urllib.request.urlopen(url, timeout=10) as response:
                for line in response.read().decode().splitlines():
                    match = REPLICA_READS.match(line)
                    if match:
                        name = "reads:" + match.group(1)
                        found[name] = found.get(name, 0) + int(float(match.group(2)))
        for node, uri in (
            ("mysql-primary", self.env["FLASK_MYSQL_URI"]),
            ("mysql-replica", self.env["FLASK_MYSQL_REPLICA_URI"].split(",")[0]),
        ):
            with _mysql(uri) as conn, conn.cursor() as cursor:
                cursor.execute("SHOW GLOBAL STATUS WHERE Variable_name IN %s", (MYSQL_COUNTERS,))
                for name, value in cursor.fetchall():
                    found[f"{node}:{name.removeprefix('Com_').lower()}"] = int(value)
        return found

    def wait_for_replicas(self) -> None:
        """Until the replica has applied everything the primary wrote (the seeding)."""
        primary = _mysql(self.env["FLASK_MYSQL_URI"])
        replica = _mysql(self.env["FLASK_MYSQL_REPLICA_URI"])
        with primary, replica, primary.cursor() as p, replica.cursor() as r:
            p.execute("SELECT @@gtid_binlog_pos")
            position = p.fetchone()[0]
            r.execute("SELECT MASTER_GTID_WAIT(%s, 120)", (position,))
            if r.fetchone()[0] != 0:
                sys.exit("the replica did not catch up with the seeding in 120 s")

    def __exit__(self, *exc) -> None:
        self._down()

    def _down(self) -> None:
        subprocess.run([str(BIN / "imflask-cluster"), "down", str(self.folder)], cwd=ROOT,
                       capture_output=True)  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


# --- one target's run -----------------------------------------------------------------------


def measure(target, args, run_id: str) -> dict:
    fixtures = seed(target.env, args)
    target.wait_for_replicas()
    bench._wait_until_idle(15)
    result = {"shape": target.shape, "connections": args.connections, "seeded": fixtures["report"]}
    with target.hello() as url:
        _wait_for_ok(url + "/", seconds=60)  # every worker has imported the app
        _wrk_plain(url + "/", args.warmup, args.connections)
        result["hello"] = _wrk_plain(url + "/", args.duration, args.connections)
        _say("hello", result["hello"])
    with target.app() as url:
        _wait_for_ok(url + LIST_PATH, seconds=60)
        tokens = fixtures["tokens"]
        check_signed_in(url, tokens)
        _wrk_plain(url + LIST_PATH, args.warmup, args.connections)
        result["list"] = _with_cpu(
            target, lambda: _wrk_plain(url + LIST_PATH, args.duration, args.connections)
        )
        _say("article list (read-only)", result["list"])
        mixed_text = mixed_script(fixtures, tokens, run_id)
        result["mixed"] = _mixed_phase(target, url, mixed_text, args)
        _say("mixed", result["mixed"])
        # More (list, mixed) pairs on a noisy machine: the ratio within each pair, and their median.
        result["rounds"] = [_round(result["list"], result["mixed"])]
        for _ in range(args.rounds - 1):
            _wrk_plain(url + LIST_PATH, args.warmup, args.connections)
            listing = _with_cpu(
                target, lambda: _wrk_plain(url + LIST_PATH, args.duration, args.connections)
            )
            _say("article list (read-only)", listing)
            mixed = _mixed_phase(target, url, mixed_text, args)
            _say("mixed", mixed)
            result["rounds"].append(_round(listing, mixed))
        # The same reads, signed in, without the writes: what the writes cost the reads.
        script = mixed_script(fixtures, tokens, run_id, weights=READS_ONLY)
        result["reads_only"] = _mixed_phase(target, url, script, args)
        _say("signed-in reads, no writes", result["reads_only"])
    hello_rps, list_rps = result["hello"]["rps"], result["list"]["rps"]
    for phase in ("list", "mixed", "reads_only"):
        result[phase]["ratio_to_hello"] = round(result[phase]["rps"] / hello_rps, 3)
    mixed = result["mixed"]
    mixed["ratio_to_list"] = round(mixed["rps"] / list_rps, 3)
    result["median_ratio_to_list"] = statistics.median(r["ratio"] for r in result["rounds"])
    worst_p99 = max(mixed["reads"]["p99_ms"], mixed["writes"]["p99_ms"])
    failures = mixed["non_2xx"] + mixed["errors"]
    result["target"] = {
        "mixed >= 0.5 x list": mixed["ratio_to_list"] >= 0.5,
        "p99 < 100 ms (reads and writes)": worst_p99 < 100,
        "no non-2xx": failures == 0,
    }
    return result


def _round(listing: dict, mixed: dict) -> dict:
    """One (read-only list, mixed) pair: their req/s, p99s and ratio."""
    return {
        "list_rps": listing["rps"],
        "list_p99_ms": listing["p99_ms"],
        "mixed_rps": mixed["rps"],
        "mixed_p99_ms": mixed["p99_ms"],
        "list_cache_hit_rate": mixed["list_cache"]["hit_rate"],
        "ratio": round(mixed["rps"] / listing["rps"], 3),
        "list_cpu_ms": listing.get("cpu_ms_per_request"),
        "mixed_cpu_ms": mixed.get("cpu_ms_per_request"),
        "list_cpu_ms_by_part": listing.get("cpu_ms_per_request_by_part"),
        "mixed_cpu_ms_by_part": mixed.get("cpu_ms_per_request_by_part"),
    }


def _mixed_phase(target, url: str, script_text: str, args) -> dict:
    """A warm-up, then the measured run with the list cache's SETs counted."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="mixed-") as script:
        script.write(script_text)
        script.flush()
        _wrk_mixed(url, script.name, args.warmup, args.connections)
        time.sleep(DRAIN)  # the warm-up's last requests, answered to nobody
        with SetCounter(target.redis_url) as sets:
            cpu_before, counted_before = target.cpu_seconds(), target.counters()
            result = _wrk_mixed(url, script.name, args.duration, args.connections)
        # With the drain: the last requests.
        _add_cpu(result, cpu_before, target.cpu_seconds())
        _add_counters(result, counted_before, target.counters())
    # Every list request sent looks the cache up once, also the few (at most one per
    # connection) still in the server when wrk stopped: their SETs are counted too.
    lookups = result["kinds"]["list"]["sent"]
    misses = sets.counts.get(LIST_CACHE_KEYS, 0)
    result["list_cache"] = {
        "lookups": lookups,
        "stored_misses": misses,
        "hit_rate": round(1 - misses / lookups, 4) if lookups else None,
        "sets_by_family": sets.families,
        "misses_by_page": dict(sorted(sets.pages.items(), key=lambda item: -item[1])),
    }
    return result


def _list_page_kind(ident: str) -> str:
    """The kind of list page a list cache key names (its id: ``cache.identity``'s JSON,
    percent-encoded): feed, tag, author, favorited, home (offset 0) or home, next pages."""
    try:
        parts = json.loads(urllib.parse.unquote(ident))
    except ValueError:
        return "unknown"
    for name in ("feed", "tag", "author", "favorited"):
        if parts.get(name):
            return name
    return "home" if not parts.get("offset") else "home, next pages"


def _with_cpu(target, phase) -> dict:
    before, counted_before = target.cpu_seconds(), target.counters()
    result = phase()
    time.sleep(DRAIN)
    _add_cpu(result, before, target.cpu_seconds())
    _add_counters(result, counted_before, target.counters())
    return result


def _add_cpu(result: dict, before: dict | None, after: dict | None) -> None:
    """CPU time per request answered in the phase, in all and by part (None: not measured)."""
    answered = result["rps"] * result["seconds"]
    if before is None or after is None or not answered:
        result["cpu_ms_per_request"] = None
        return
    parts = {
        part: round(1000 * (after[part] - before.get(part, 0.0)) / answered, 3) for part in after
    }
    result["cpu_ms_per_request"] = round(sum(parts.values()), 3)
    result["cpu_ms_per_request_by_part"] = parts


def _add_counters(result: dict, before: dict | None, after: dict | None) -> None:
    """Commands per request answered in the phase, the ones that moved (cluster only)."""
    answered = result["rps"] * result["seconds"]
    if before is None or after is None or not answered:
        return
    result["commands_per_request"] = {
        name: round((count - before.get(name, 0)) / answered, 3)
        for name, count in sorted(after.items())
        if count - before.get(name, 0) > 0
    }


def _cpu_by_session(parts: dict[int, str]) -> dict[str, float]:
    """utime + stime of every process in these sessions, summed by the part each names."""
    ticks = dict.fromkeys(parts.values(), 0)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        part = parts.get(int(fields[3]))
        if part is not None:
            ticks[part] += int(fields[11]) + int(fields[12])
    return {part: count / os.sysconf("SC_CLK_TCK") for part, count in ticks.items()}


def _cpu_seconds(sessions: set[int], marker: str) -> float:
    """utime + stime of every process in these sessions or with ``marker`` in its command."""
    ticks = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) not in sessions:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                if marker not in command:
                    continue
        except OSError:  # gone meanwhile
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def seed(env: dict[str, str], args) -> dict:
    """Seed in a child process (the code behind `flask db seed`); return the names to use."""
    code = f"""
import json, random, time
from imflask_controllers import seeding, tokens
from imflask_controllers.context import bootstrap
ctx = bootstrap()  # as the app starts its stores, without the app
started = time.perf_counter()
report = seeding.seed(ctx, seeding.SeedPlan(users={args.users}, articles={args.articles}))
took = time.perf_counter() - started
with ctx.stores.sql.connection() as conn:
    users = conn.all("SELECT id, username FROM users ORDER BY id")
    newest = "SELECT slug FROM articles ORDER BY created_at DESC, id DESC LIMIT {args.slugs}"
    slugs = [r["slug"] for r in conn.all(newest)]
    popular = ("SELECT t.name FROM tags t JOIN article_tags a ON a.tag_id = t.id "
               "GROUP BY t.name ORDER BY COUNT(*) DESC LIMIT 20")
    tags = [r["name"] for r in conn.all(popular)]
pool = random.Random(1).sample([u["id"] for u in users], {args.pool})
# The access tokens a login issues (same claims, the app's secret), without 200 argon2 hashes.
pool = [tokens.mint_access_token(secret=ctx.settings.secret_key, user_id=i, ttl_seconds=3600)
        for i in pool]
print(json.dumps({{"report": {{**vars(report), "seconds": round(took, 1)}},
                  "usernames": [u["username"] for u in users], "tokens": pool,
                  "slugs": slugs, "tags": tags}}))
"""
    print(f"  seeding {args.users} users and {args.articles} articles...", flush=True)
    return bench.seed_in_subprocess(code, env, indent="  ")


def check_signed_in(url: str, tokens: list[str]) -> None:
    """Every token of the pool is accepted by the target (GET /api/user answers 200)."""

    def current_user(token: str) -> int:
        request = urllib.request.Request(  # noqa: S310 - the target's http:// URL
            url + "/api/user", headers={"Authorization": f"Token {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - http://
            return response.status

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(current_user, tokens))
    if any(status != 200 for status in statuses):
        sys.exit(f"the target refused some of the {len(tokens)} tokens: {statuses}")
    print(f"  {len(tokens)} signed-in users, each token accepted", flush=True)


def mixed_script(fixtures: dict, tokens: list[str], run_id: str, weights=None) -> str:
    """bench/mixed.lua with this run's data (and other weights, if given) in front of it."""

    def table(name: str, values: list[str]) -> str:
        return f"{name} = {{{','.join(_lua_string(v) for v in values)}}}\n"

    quoted = lambda values: [urllib.parse.quote(v, safe="") for v in values]  # noqa: E731
    data = (
        table("TOKENS", tokens)
        + table("USERS", quoted(fixtures["usernames"]))
        + table("SLUGS", quoted(fixtures["slugs"]))
        + table("TAGS", quoted(fixtures["tags"]))
        + table("TAG_JSON", [json.dumps(t) for t in fixtures["tags"]])
        + f"RUN = {_lua_string(run_id)}\n"
        + (f"WEIGHTS = {{{', '.join(str(w) for w in weights)}}}\n" if weights else "")
    )
    return data + LUA.read_text()


def _lua_string(text: str) -> str:
    """A Lua string literal for any text (every byte outside a safe set as a decimal escape)."""
    safe = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~%+/:=@ ")
    return '"' + "".join(chr(b) if b in safe else f"\\{b:03d}" for b in text.encode()) + '"'


# --- counting the list cache's misses -------------------------------------------------------


class SetCounter:
    """Counts SETs by key family through Redis' keyspace notifications, while the block runs.

    The app SETs a list page only after a miss (``cache.cached``: a hit reads and writes
    nothing), so list lookups minus list SETs are the hits. The notifications are switched
    on for the block only, and only on a Redis this run started (or the cluster it made).
    """

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url)
        self.counts: dict[str, int] = {}
        self.families: dict[str, int] = {}
        self.pages: dict[str, int] = {}  # list SETs by the kind of page (``_list_page_kind``)

    def __enter__(self) -> SetCounter:
        self.before = self.client.config_get("notify-keyspace-events")["notify-keyspace-events"]
        self.client.config_set("notify-keyspace-events", "E$")
        db = self.client.connection_pool.connection_kwargs.get("db", 0)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(f"__keyevent@{db}__:set")
        self.pubsub.get_message(timeout=1.0)  # the subscription's confirmation
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._count, daemon=True)
        self.thread.start()
        return self

    def _count(self) -> None:
        pattern = re.compile(r"cache:([^:]+):")
        while not self.stopping.is_set():
            message = self.pubsub.get_message(timeout=0.2)
            if message is None:
                continue
            key = message["data"].decode(errors="replace")
            if LIST_CACHE_KEYS in key:
                self.counts[LIST_CACHE_KEYS] = self.counts.get(LIST_CACHE_KEYS, 0) + 1
                page = _list_page_kind(key.split(LIST_CACHE_KEYS, 1)[1])
                self.pages[page] = self.pages.get(page, 0) + 1
            if match := pattern.search(key):
                family = match.group(1)
                self.families[family] = self.families.get(family, 0) + 1

    def __exit__(self, *exc) -> None:
        time.sleep(DRAIN)  # the requests still in the server when wrk stopped
        self.stopping.set()
        self.thread.join()
        self.pubsub.close()
        self.client.config_set("notify-keyspace-events", self.before)
        self.client.close()


# --- wrk --------------------------------------------------------------------------------------


def _wrk(argv: list[str]) -> str:
    return subprocess.run(["wrk", *argv], capture_output=True, text=True, check=True).stdout


def _wrk_summary(out: str) -> dict:
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": bench._latency_ms(out, "50%"),
        "p99_ms": bench._latency_ms(out, "99%"),
        "non_2xx": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out))
        else 0,
        "errors": sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", errors))
        if (errors := _line(out, "Socket errors:")) else 0,
        "seconds": _elapsed(out),
    }  # fmt: skip


def _wrk_plain(url: str, seconds: int, connections: int) -> dict:
    argv = ["-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(bench.STATUS_LUA)  # prints the first body of each non-2xx status
        script.flush()
        out = _wrk([*argv, "-s", script.name])
    for line in out.splitlines():
        if line.startswith("non-2xx"):
            print(f"    {line}", flush=True)
    return _wrk_summary(out)


def _wrk_mixed(url: str, script: str, seconds: int, connections: int) -> dict:
    out = _wrk(["-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url])
    result = _wrk_summary(out)
    bucket_us = int(re.search(r"^MIXED bucket_us (\d+)$", out, re.M).group(1))
    hist: dict[str, dict[int, int]] = {kind: {} for kind in (*READ_KINDS, *WRITE_KINDS)}
    for kind, bucket, count in re.findall(r"^MIXED hist (\S+) (\d+) (\d+)$", out, re.M):
        hist[kind][int(bucket)] = hist[kind].get(int(bucket), 0) + int(count)
    kinds: dict[str, dict[str, int]] = {}
    for kind, sent, answered, failed in re.findall(
        r"^MIXED kind (\S+) (\d+) (\d+) (\d+)$", out, re.M
    ):
        entry = kinds.setdefault(kind, {"sent": 0, "answered": 0, "non_2xx": 0})
        entry["sent"] += int(sent)
        entry["answered"] += int(answered)
        entry["non_2xx"] += int(failed)
    failures = sorted(set(re.findall(r"^MIXED failure (.*)$", out, re.M)))
    for line in failures:
        print(f"    non-2xx {line}", flush=True)
    unmatched = sum(int(n) for n in re.findall(r"^MIXED unmatched (\d+)$", out, re.M))
    answered = sum(k["answered"] for k in kinds.values())
    for cls, names in (("reads", READ_KINDS), ("writes", WRITE_KINDS)):
        count = sum(kinds[k]["answered"] for k in names)
        buckets = _merged(hist[k] for k in names)
        result[cls] = {
            "rps": round(count / result["seconds"], 1),
            "share": round(count / answered, 4) if answered else 0.0,
            "p50_ms": _percentile(buckets, 0.50, bucket_us),
            "p99_ms": _percentile(buckets, 0.99, bucket_us),
            "max_ms": _percentile(buckets, 1.0, bucket_us),
            "non_2xx": sum(kinds[k]["non_2xx"] for k in names),
        }
    for kind, entry in kinds.items():
        entry["p50_ms"] = _percentile(hist[kind], 0.50, bucket_us)
        entry["p99_ms"] = _percentile(hist[kind], 0.99, bucket_us)
    result["kinds"] = kinds
    result["unmatched"] = unmatched
    result["failures"] = failures
    return result


def _merged(histograms) -> dict[int, int]:
    total: dict[int, int] = {}
    for histogram in histograms:
        for bucket, count in histogram.items():
            total[bucket] = total.get(bucket, 0) + count
    return total


def _percentile(buckets: dict[int, int], fraction: float, bucket_us: int) -> float:
    total = sum(buckets.values())
    if not total:
        return 0.0
    wanted, seen = fraction * total, 0
    for bucket in sorted(buckets):
        seen += buckets[bucket]
        if seen >= wanted:
            return round((bucket + 1) * bucket_us / 1000, 2)  # the bucket's upper edge
    return round((max(buckets) + 1) * bucket_us / 1000, 2)


def _line(out: str, start: str) -> str:
    return next((line for line in out.splitlines() if line.strip().startswith(start)), "")


def _elapsed(out: str) -> float:
    match = re.search(r"requests in ([\d.]+)(us|ms|s|m)", out)
    value, unit = float(match.group(1)), match.group(2)
    return {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit] * value


# --- printing -------------------------------------------------------------------------------


def _say(name: str, r: dict) -> None:
    cpu = r.get("cpu_ms_per_request")
    print(
        f"  {name:26} {r['rps']:9.1f} req/s  p50 {r['p50_ms']:7.2f} ms"
        f"  p99 {r['p99_ms']:7.2f} ms  non-2xx {r['non_2xx'] + r['errors']}"
        + (f"  CPU {cpu:.2f} ms/request" if cpu is not None else ""),
        flush=True,
    )
    parts = r.get("cpu_ms_per_request_by_part", {})
    if len(parts) > 1:
        shares = ", ".join(f"{part} {ms:.2f}" for part, ms in parts.items())
        print(f"    CPU ms/request by part: {shares}", flush=True)
    commands = r.get("commands_per_request")
    if commands:
        print("    commands/request: "
              + ", ".join(f"{name} {n:.2f}" for name, n in commands.items() if n >= 0.01),
              flush=True)  # fmt: skip


def print_target(name: str, r: dict) -> None:
    mixed = r["mixed"]
    print(f"\n{name}: {r['shape']}; wrk -t2 -c{r['connections']}, seeded {r['seeded']}")
    print(f"{'phase':30}{'req/s':>9}{'x hello':>9}{'x list':>8}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'non-2xx':>9}")  # fmt: skip
    hello, listing = r["hello"]["rps"], r["list"]["rps"]
    rows = [
        ("hello", r["hello"]),
        ("article list (read-only)", r["list"]),
        ("mixed, all", mixed),
        (f"  reads ({100 * mixed['reads']['share']:.1f}%)", mixed["reads"]),
        (f"  writes ({100 * mixed['writes']['share']:.1f}%)", mixed["writes"]),
        ("signed-in reads, no writes", r["reads_only"]),
    ]
    for label, row in rows:
        failures = row["non_2xx"] + row.get("errors", 0)
        print(f"{label:30}{row['rps']:9.1f}{row['rps'] / hello:9.2f}{row['rps'] / listing:8.2f}"
              f"{row['p50_ms']:9.2f}{row['p99_ms']:9.2f}{failures:9d}")  # fmt: skip
    print("mixed, by kind: " + ", ".join(
        f"{kind} {k['answered']} (p50 {k['p50_ms']:.1f}, p99 {k['p99_ms']:.1f} ms)"
        for kind, k in mixed["kinds"].items()))  # fmt: skip
    for label, phase in (("mixed", mixed), ("signed-in reads, no writes", r["reads_only"])):
        cache = phase["list_cache"]
        if cache["hit_rate"] is not None:
            pages = cache.get("misses_by_page", {}).items()
            print(f"list cache, {label}: {cache['lookups'] - cache['stored_misses']} hits of "
                  f"{cache['lookups']} lookups = {100 * cache['hit_rate']:.1f}%; misses by page: "
                  + ", ".join(f"{page} {n}" for page, n in pages))  # fmt: skip
    if len(r["rounds"]) > 1:
        print("rounds (list req/s, p99 ms -> mixed req/s, p99 ms = ratio): " + "; ".join(
            f"{x['list_rps']:.0f}, {x['list_p99_ms']:.0f} -> {x['mixed_rps']:.0f}, "
            f"{x['mixed_p99_ms']:.0f} = {x['ratio']:.2f}" for x in r["rounds"]))  # fmt: skip
        print(f"median mixed x list over {len(r['rounds'])} rounds: "
              f"{r['median_ratio_to_list']:.2f}")  # fmt: skip
    if mixed["unmatched"]:
        print(f"responses not matched to a request: {mixed['unmatched']}")
    for check, ok in r["target"].items():
        print(f"target {check}: {'met' if ok else 'NOT met'}")


# --- small helpers --------------------------------------------------------------------------


def _without_flask(env) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith(("FLASK_", "GUNICORN_"))}


def _mysql(uri: str) -> pymysql.Connection:
    parts = urllib.parse.urlsplit(uri)
    return pymysql.connect(
        host=parts.hostname, port=parts.port or 3306, user=parts.username,
        password=urllib.parse.unquote(parts.password or ""), database=parts.path.lstrip("/"),
    )  # fmt: skip


def _wait_for_port(port: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not bench._answers(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answers on port {port}")
        time.sleep(0.1)


def _wait_for_ok(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http://
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 in {seconds} s")
        time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the process this run started (its own session), SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


if __name__ == "__main__":
    main()
