"""The front door of the reference topology, on one imflask-cluster per session.

``uv run pytest -m topology packages/cluster/tests -s`` prints what each test
measured (the figures in docs/deploy.md come from here).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest

from imflask_cluster import Cluster
from testkit.cluster import client_address, cluster_command, publish, sign_up
from testkit.load import Outcome, by_status, http, run_load, summary

pytestmark = pytest.mark.topology

# 200 slow-header connections held this long: the 60 s, six of HAProxy's 10 s
# `timeout http-request` cuts (IMFLASK_SLOWLORIS_SECONDS shortens it for a quick try).
SLOWLORIS_SECONDS = float(os.environ.get("IMFLASK_SLOWLORIS_SECONDS", "60"))
SLOW_CONNECTIONS = 200
AUTH_LIMIT = 10  # production's FLASK_RATE_LIMIT_AUTH: 10 per minute per client address


def say(message: str) -> None:
    print(f"\n[topology] {message}", flush=True)


def served_by(cluster: Cluster) -> dict[str, int]:
    """Requests each instance has answered through HAProxy so far (its stot counter)."""
    from imflask_cluster import probes
    from imflask_cluster.layout import stats_socket

    rows = probes.haproxy_stats(str(stats_socket(cluster.node("haproxy"))))
    return {r["svname"]: int(r["stot"]) for r in rows if r["pxname"] == "app" and
            r["svname"].startswith("app")}  # fmt: skip


def instance_url(cluster: Cluster, name: str) -> str:
    return f"http://127.0.0.1:{cluster.node(name).port}"


# Up and status ------------------------------------------------------------------------


def test_up_prints_the_front_door_and_environment_and_status_shows_every_node(cluster):
    # given the session's cluster, brought up by `imflask-cluster up DIR`
    output = cluster.up_output
    say(f"imflask-cluster up: {cluster.state['up_seconds']} s (command: "
        f"{cluster.up_wall_seconds:.1f} s)")  # fmt: skip

    # then it printed the front door and shell exports of the FLASK_* environment
    assert f"{cluster.url}/" in output
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in output.splitlines()
        if line.startswith("export ")
    )
    for name in ("FLASK_CONFIG", "FLASK_SECRET_KEY", "FLASK_MYSQL_URI", "FLASK_MYSQL_REPLICA_URI",
                 "FLASK_MONGO_URI", "FLASK_REDIS_SENTINELS",
                 "FLASK_REDIS_SENTINEL_MASTER", "FLASK_REDIS_PW"):  # fmt: skip
        assert name in exports, name
    assert exports["FLASK_CONFIG"] == "production"
    assert len(exports["FLASK_REDIS_SENTINELS"].split(",")) == 3

    # when status runs, as a command
    done = cluster_command("status", cluster.folder, "--json", timeout=60)
    rows = {row["name"]: row for row in map(json.loads, done.stdout.splitlines())}

    # then every node is up, in the role it was set up in
    assert done.returncode == 0, done.stdout + done.stderr
    expected = {
        "haproxy",
        "app1",
        "app2",
        "app3",
        "mysql-primary",
        "mysql-replica",
        "redis1",
        "redis2",
        "sentinel1",
        "sentinel2",
        "sentinel3",
        "mongo",
        "worker1",
        "worker2",
    }
    assert set(rows) == expected
    assert all(row["up"] for row in rows.values()), rows
    assert rows["mysql-primary"]["role"] == "primary"
    assert rows["mysql-replica"]["role"] == "replica"
    assert "io Yes, sql Yes" in rows["mysql-replica"]["detail"]
    assert rows["redis1"]["role"] == "master"
    assert rows["redis2"]["role"] == "replica"
    assert "2 other sentinel(s), 1 replica(s)" in rows["sentinel1"]["detail"]
    assert all("HAProxy UP" in rows[f"app{i}"]["detail"] for i in (1, 2, 3))
    table = cluster_command("status", cluster.folder, timeout=60).stdout
    assert all(name in table for name in expected)


def test_sign_up_publish_and_read_through_the_front_door(healthy_cluster):
    # given a user signed up through the front door
    cluster = healthy_cluster
    author = sign_up(cluster.url, "writer")

    # when they publish through it
    created = publish(cluster.url, author, "Through the front door")

    # then the article reads back through the front door and from every instance
    assert created.status == 201, created
    slug = created.body["article"]["slug"]
    for base in (cluster.url, *(instance_url(cluster, f"app{i}") for i in (1, 2, 3))):
        read = http(base, "GET", f"/api/articles/{slug}")
        assert read.status == 200, (base, read)
        assert read.body["article"]["author"]["username"] == author.username


# A failed instance ----------------------------------------------------------------------


@pytest.mark.parametrize("victim", ["app1", "app3"])
def test_a_killed_instance_leaves_rotation_without_5xx_and_returns_after_start(
    healthy_cluster, victim
):
    # given reads through the front door from 4 clients
    cluster = healthy_cluster
    author = sign_up(cluster.url, "reader")
    slug = publish(cluster.url, author, "Still here").body["article"]["slug"]
    marks: dict[str, float] = {}
    stop = threading.Event()

    def scenario() -> None:
        time.sleep(1.5)
        marks["kill"] = time.monotonic()
        cluster.kill(victim)  # SIGKILL to gunicorn's master and its workers
        cluster.wait_in_rotation([victim], up=False, timeout=10)
        marks["out"] = time.monotonic()
        time.sleep(1.5)
        marks["start"] = time.monotonic()
        cluster.start(victim)  # returns once HAProxy has it UP again
        marks["back"] = time.monotonic()
        marks["served_before"] = served_by(cluster)[victim]
        time.sleep(1.5)
        stop.set()

    def send(i: int) -> Outcome:
        path = f"/api/articles/{slug}" if i % 2 else "/api/articles?limit=5"
        return http(cluster.url, "GET", path, timeout=5, source=author.address)

    # when one instance is SIGKILLed, and started again, under that load
    runner = threading.Thread(target=scenario)
    runner.start()
    outcomes = []
    while not stop.is_set():
        outcomes += run_load(send, threads=4, seconds=1.0)
    runner.join()

    # then no request failed, it left rotation within a second and came back after start
    failed = [o for o in outcomes if not o.ok]
    out_after = marks["out"] - marks["kill"]
    back_after = marks["back"] - marks["start"]
    say(f"killed {victim}: {summary(outcomes)}; out of rotation {out_after:.2f} s after "
        f"SIGKILL; back in rotation {back_after:.2f} s after start")  # fmt: skip
    if failed:
        window = max(o.started for o in failed) - min(o.started for o in failed)
        say(f"killed {victim}: {len(failed)} failures within {window:.2f} s: {by_status(failed)}")
    assert failed == [], summary(failed)
    assert out_after < 2.0
    assert served_by(cluster)[victim] > marks["served_before"]  # it serves again


def test_the_front_door_keeps_serving_when_readyz_fails_everywhere(healthy_cluster):
    # given the MongoDB-wire daemon, which every instance's /readyz checks, is killed
    cluster = healthy_cluster
    cluster.kill("mongo")
    try:
        cluster.wait_in_rotation(["app1", "app2", "app3"], up=False, timeout=10)

        # when articles are read through the front door
        reads = [http(cluster.url, "GET", "/api/articles?limit=5") for _ in range(6)]
        ready = http(cluster.url, "GET", "/readyz")
    finally:
        cluster.start("mongo")

    # then the live instances still answer what needs no MongoDB; /readyz tells the truth
    assert [o.status for o in reads] == [200] * 6, reads
    assert ready.status == 503, ready
    assert ready.body["mongo"] == "down", ready
    cluster.wait_in_rotation(["app1", "app2", "app3"], timeout=30)


# Slow clients ----------------------------------------------------------------------------


class SlowHeaders:
    """``count`` connections sending request headers one line a second, never the blank line
    that ends them; a connection the server closes is opened again at once (slowloris)."""

    def __init__(self, port: int, count: int = SLOW_CONNECTIONS, interval: float = 1.0):
        self.port, self.count, self.interval = port, count, interval
        self.sockets: list[socket.socket | None] = []
        self.opened = self.closed_by_server = self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SlowHeaders:
        self.sockets = [self._open() for _ in range(self.count)]
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self.sockets:
            if sock is not None:
                sock.close()

    @property
    def open_now(self) -> int:
        return sum(1 for sock in self.sockets if sock is not None)

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=1)
            sock.sendall(b"GET /api/articles HTTP/1.1\r\nHost: localhost\r\n")
        except OSError:
            self.refused += 1
            return None
        sock.setblocking(False)
        self.opened += 1
        return sock

    def _run(self) -> None:
        line = 0
        while not self._stop.wait(self.interval):
            line += 1
            for i, sock in enumerate(self.sockets):
                if self._stop.is_set():
                    return
                if sock is not None and self._still_open(sock, line):
                    continue
                if sock is not None:
                    sock.close()
                    self.closed_by_server += 1
                self.sockets[i] = self._open()

    @staticmethod
    def _still_open(sock: socket.socket, line: int) -> bool:
        try:
            if sock.recv(4096) is not None:  # an answer (408) or the end: the server gave up
                return False
        except BlockingIOError:
            pass
        except OSError:
            return False
        try:
            sock.send(b"X-Slow-%d: 1\r\n" % line)
        except BlockingIOError:
            return True
        except OSError:
            return False
        return True


def test_slowloris_through_the_front_door_leaves_normal_requests_under_a_second(
    healthy_cluster,
):
    # given 200 slow-header connections to the front door, held for SLOWLORIS_SECONDS
    cluster = healthy_cluster
    user = sign_up(cluster.url, "slow")
    with SlowHeaders(cluster.node("haproxy").port) as slow:
        time.sleep(1)

        # when normal clients read through it meanwhile, at most ~100 requests/s each: a
        # new connection per request, and unpaced on a quiet machine (500/s) the loopback's
        # ephemeral ports ran out in TIME_WAIT (EADDRINUSE here and in the app's store calls)
        def read(i: int) -> Outcome:
            time.sleep(0.01)
            return http(cluster.url, "GET", "/api/articles?limit=5", timeout=5, source=user.address)

        outcomes = run_load(read, threads=2, seconds=SLOWLORIS_SECONDS - 1)
        held = slow.open_now

    # then every normal request was answered, each in under a second
    say(f"slowloris via HAProxy, {SLOW_CONNECTIONS} connections for {SLOWLORIS_SECONDS:.0f} s "
        f"({held} open at the end, {slow.closed_by_server} cut by HAProxy and reopened, "
        f"{slow.refused} refused): {summary(outcomes)}")  # fmt: skip
    assert held >= SLOW_CONNECTIONS * 0.9
    assert all(o.status == 200 for o in outcomes), summary(outcomes)
    assert max(o.elapsed for o in outcomes) < 1.0, summary(outcomes)


def test_slowloris_against_one_gunicorn_directly_shows_why_the_proxy_is_there(
    healthy_cluster,
):
    # given 200 slow-header connections straight to app3's gunicorn (2 sync workers)
    cluster = healthy_cluster
    direct = instance_url(cluster, "app3")
    try:
        with SlowHeaders(cluster.node("app3").port) as slow:
            time.sleep(1)
            # when normal clients call app3 directly meanwhile (bounded: 6 s)
            outcomes = run_load(
                lambda i: http(direct, "GET", "/api/articles?limit=5", timeout=2),
                threads=2, seconds=6,
            )  # fmt: skip
            held = slow.open_now
            rotation = cluster.rotation()
    finally:
        back = cluster.wait_in_rotation(["app3"], timeout=60)

    # then: reported, not asserted (this is the failure the front door exists for)
    answered = [o for o in outcomes if o.status == 200]
    say(
        f"slowloris straight at one gunicorn (2 sync workers), {held} connections: "
        f"{summary(outcomes)}; {len(answered)} of {len(outcomes)} answered; HAProxy saw app3 "
        f"{rotation.get('app3')}; back in rotation {back:.1f} s after the slow clients left"
    )


# Rolling restart -------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["sigterm", "drain"])
def test_a_rolling_restart_under_load_drops_no_request(healthy_cluster, how):
    # given reads from 3 clients and article writes from 3 authors through the front door
    cluster = healthy_cluster
    authors = [sign_up(cluster.url, "roller") for _ in range(3)]
    slug = publish(cluster.url, authors[0], "Before the restart").body["article"]["slug"]
    acknowledged: list[str] = []
    stop = threading.Event()
    marks: dict[str, float] = {}

    def restart() -> None:
        time.sleep(1.5)
        marks["began"] = time.monotonic()
        if how == "drain":  # HAProxy drains app2 first; then SIGTERM and start
            cluster.restart("app2")
        else:  # plain SIGTERM to gunicorn's master, then start
            cluster.stop("app2")
            cluster.start("app2")
        marks["ended"] = time.monotonic()
        time.sleep(1.5)
        stop.set()

    def write() -> None:  # 2.5 articles a second over 3 authors: under 60 writes/min each
        n = 0
        while not stop.is_set():
            answer = publish(cluster.url, authors[n % 3], f"Rolling {how} {n}", timeout=10)
            writes.append(answer)
            if answer.status == 201:
                acknowledged.append(answer.body["article"]["slug"])
            n += 1
            time.sleep(0.4)

    def read(i: int) -> Outcome:
        return http(cluster.url, "GET", f"/api/articles/{slug}", timeout=10,
                    source=authors[i % 3].address)  # fmt: skip

    # when app2 is restarted under it
    writes: list[Outcome] = []
    threads = [threading.Thread(target=restart), threading.Thread(target=write)]
    for thread in threads:
        thread.start()
    reads: list[Outcome] = []
    while not stop.is_set():
        reads += run_load(read, threads=3, seconds=1.0)
    for thread in threads:
        thread.join()

    # then every request was answered 2xx, and every acknowledged write is there
    took = marks["ended"] - marks["began"]
    outcomes = reads + writes
    say(f"rolling restart ({how}) of app2 in {took:.1f} s: reads {summary(reads)}; "
        f"writes {summary(writes)}")  # fmt: skip
    assert all(o.ok for o in outcomes), summary([o for o in outcomes if not o.ok])
    assert len(acknowledged) == len(writes) > 10
    missing = [s for s in acknowledged if http(cluster.url, "GET", f"/api/articles/{s}").status
               != 200]  # fmt: skip
    assert missing == []


# Client address and security state across instances ----------------------------------


def test_x_forwarded_for_reaches_the_app_so_each_client_address_has_its_own_limit(
    healthy_cluster,
):
    # given two clients, 127.x.y.a and 127.x.y.b, that never signed in
    cluster = healthy_cluster
    first, second = client_address(), client_address()
    before = served_by(cluster)

    def attempt(address: str, n: int, forged: str | None = None) -> Outcome:
        headers = {"X-Forwarded-For": forged} if forged else None
        user = {"email": f"nobody{n}-{address}@example.org", "password": "wrong password"}
        return http(cluster.url, "POST", "/api/users/login", json={"user": user},
                    headers=headers, source=address)  # fmt: skip

    # when the first makes 10 failed logins (other accounts each time) through the front
    # door, round-robin over the 3 instances, then two more (one with a forged header)
    allowed = [attempt(first, n) for n in range(AUTH_LIMIT)]
    over = attempt(first, AUTH_LIMIT)
    forged = attempt(first, AUTH_LIMIT + 1, forged="10.9.8.7")
    other = attempt(second, 0)

    # then the first is limited on every instance, a forged X-Forwarded-For does not
    # escape the limit (HAProxy appends the real address, the app trusts 1 hop),
    # and the second client is not limited at all
    after = served_by(cluster)
    assert [o.status for o in allowed] == [401] * AUTH_LIMIT, allowed
    assert over.status == 429, over
    assert forged.status == 429, forged
    assert other.status == 401, other
    assert all(after[name] > before[name] for name in before)  # every instance took a share


def test_logout_through_one_instance_holds_on_every_instance(healthy_cluster):
    # given a signed-in user whose token works on every instance
    cluster = healthy_cluster
    user = sign_up(cluster.url, "leaver")
    instances = [instance_url(cluster, f"app{i}") for i in (1, 2, 3)]
    assert [user.call(base, "GET", "/api/user").status for base in instances] == [200] * 3

    # when they log out through app1
    logout = user.call(instances[0], "POST", "/api/auth/logout")

    # then the token is refused by every instance and through the front door
    assert logout.status == 204, logout
    after = [user.call(base, "GET", "/api/user").status for base in (*instances, cluster.url)]
    assert after == [401] * 4


def test_the_write_rate_limit_is_counted_once_across_instances(healthy_cluster):
    # given a signed-in user (production: 60 writes a minute)
    cluster = healthy_cluster
    user = sign_up(cluster.url, "busy")
    article = publish(cluster.url, user, "Favorite me").body["article"]["slug"]
    instances = [instance_url(cluster, f"app{i}") for i in (1, 2, 3)]

    # when they favorite and unfavorite in turn, on the three instances in turn
    statuses = []
    for n in range(61):  # the article was write 1
        method = "POST" if n % 2 == 0 else "DELETE"
        base = instances[n % 3]
        statuses.append(user.call(base, method, f"/api/articles/{article}/favorite").status)

    # then the 60th write of the minute passes and the 61st is refused, whichever instance
    assert statuses[:59] == [200] * 59, statuses
    assert statuses[59:] == [429, 429], statuses
