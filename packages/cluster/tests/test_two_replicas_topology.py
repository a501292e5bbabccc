"""Two MySQL read replicas on an imflask-cluster of its own (``--mysql-replicas 2``).

``FLASK_MYSQL_REPLICA_URI`` names both (comma-separated) and
``FLASK_MYSQL_REPLICA_MAX_LAG`` is 3 s. Each test asserts where reads went by
what each replica answered (its ``Com_select`` counter, or a row only one
replica has), never by timing:

- reads go to both replicas in turn, and to the one left when the other stops;
- a replica lagging more than the max lag is skipped while the other serves;
- with both replicas lagging (under the max lag) the writer still sees their
  writes at once on both instances.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from imflask_cluster import Cluster, probes
from testkit.cluster import (
    applied,
    instance_urls,
    primary_position,
    publish,
    sign_up,
    started_cluster,
)
from testkit.load import Outcome, http

pytestmark = pytest.mark.topology

MAX_LAG = 3  # FLASK_MYSQL_REPLICA_MAX_LAG of this cluster, seconds
REPLICAS = ("mysql-replica", "mysql-replica2")
INSTANCES = ("app1", "app2")


def say(message: str) -> None:
    print(f"\n[two replicas] {message}", flush=True)


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("replicas")
    options = ["--instances", "2", "--workers", "0", "--mysql-replicas", "2",
               "--env", f"FLASK_MYSQL_REPLICA_MAX_LAG={MAX_LAG}"]  # fmt: skip
    with started_cluster(folder, *options) as cluster:
        yield cluster


@pytest.fixture
def replicas(two_replicas: Cluster) -> Iterator[Cluster]:
    """The module's cluster with both replicas running, caught up; so again after."""
    cluster = two_replicas
    yield cluster
    cluster.reload()
    for name in REPLICAS:
        if not cluster.node(name).alive:
            cluster.start(name)
        cluster.set_replica_delay(0, name)
    position = primary_position(cluster)
    assert all(applied(cluster, name, position, timeout=30) for name in REPLICAS)


def selects(cluster: Cluster, name: str) -> int:
    """How many SELECTs the replica has run since it started."""
    port = cluster.node(name).port or 0
    with probes.mysql_connect(port) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Com_select'")
        return int(cursor.fetchone()["Value"])


def seconds_behind(cluster: Cluster, name: str) -> int | None:
    port = cluster.node(name).port or 0
    with probes.mysql_connect(port) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW SLAVE STATUS")
        return cursor.fetchone()["Seconds_Behind_Master"]


def slugs(answer: Outcome) -> list[str]:
    assert answer.status == 200, answer
    return [article["slug"] for article in answer.body["articles"]]


_pages = iter(range(1000, 10**6))


def new_pages(bases: list[str], author: str, count: int) -> list[Outcome]:
    """``count`` list pages per instance never asked before (so read from MySQL): far
    past the end (no articles), with the count of all of them."""
    return [
        http(base, "GET", f"/api/articles?author={author}&offset={next(_pages)}")
        for _ in range(count)
        for base in bases
    ]


_limits = iter(range(11, 100))


def writer_page(base: str, author: str) -> Outcome:
    """The first page of ``author``'s articles, of a size never asked before."""
    return http(base, "GET", f"/api/articles?author={author}&limit={next(_limits)}")


def test_reads_go_to_both_replicas_and_to_the_one_left_when_the_other_stops(replicas):
    # given three articles, on both replicas
    cluster = replicas
    bases = instance_urls(cluster, INSTANCES)
    writer = sign_up(cluster.url, "spread")
    for n in range(3):
        publish(cluster.url, writer, f"Spread {n}")
    assert all(applied(cluster, name, primary_position(cluster), 20) for name in REPLICAS)

    # when both instances list 20 new pages each
    before = {name: selects(cluster, name) for name in REPLICAS}
    both = new_pages(bases, writer.username, 20)
    spread = {name: selects(cluster, name) - before[name] for name in REPLICAS}

    # and again with mysql-replica2 stopped (SIGTERM)
    cluster.stop("mysql-replica2")
    before_one = selects(cluster, "mysql-replica")
    one = new_pages(bases, writer.username, 20)
    on_the_first = selects(cluster, "mysql-replica") - before_one
    ready = [http(base, "GET", "/readyz") for base in bases]

    # then every list answered 200 with the three articles, read on both replicas and
    # then on the first alone; /readyz says the stopped one is degraded, and stays 200
    say(f"SELECTs per replica for 40 new pages: {spread}; with mysql-replica2 stopped, "
        f"{on_the_first} on mysql-replica; readyz {[r.body for r in ready]}")  # fmt: skip
    for answer in both + one:
        assert answer.status == 200, answer
        assert answer.body["articlesCount"] == 3
    assert min(spread.values()) >= 10, spread
    assert on_the_first >= 20
    for answer in ready:
        assert answer.status == 200, answer
        assert answer.body["mysql"] == "ok"
        assert answer.body["mysql_replica_1"] == "ok"
        assert answer.body["mysql_replica_2"] == "degraded"


def test_a_replica_lagging_more_than_the_max_lag_is_skipped_and_the_other_serves(replicas):
    # given mysql-replica2 applying each write 8 s late under a steady trickle of writes,
    # so it lags more than the max lag (3 s)
    cluster = replicas
    bases = instance_urls(cluster, INSTANCES)
    writer = sign_up(cluster.url, "lagged")
    publish(cluster.url, writer, "Through the app")
    conn = probes.mysql_connect(cluster.node("mysql-primary").port or 0, database="imflask")
    with conn.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS ticks (id INT AUTO_INCREMENT PRIMARY KEY)")
    assert all(applied(cluster, name, primary_position(cluster), 20) for name in REPLICAS)
    cluster.set_replica_delay(8, "mysql-replica2")
    stop = threading.Event()

    def keep_writing() -> None:
        with conn.cursor() as cursor:
            while not stop.is_set():
                cursor.execute("INSERT INTO ticks () VALUES ()")
                time.sleep(0.2)

    ticker = threading.Thread(target=keep_writing, daemon=True)
    ticker.start()
    try:
        deadline = time.monotonic() + 30
        while (seconds_behind(cluster, "mysql-replica2") or 0) <= MAX_LAG + 1:
            assert time.monotonic() < deadline, "mysql-replica2 never lagged past the max lag"
            time.sleep(0.2)
        time.sleep(1.5)  # each process checks a replica's lag once a second
        # when an article is written behind the app's back (no cache generation moves),
        # and mysql-replica has it
        with conn.cursor() as cursor:
            cursor.execute(
                "INSERT INTO articles (slug, title, description, body, author_id, created_at,"
                " updated_at) SELECT %s, 'Direct', 'd', 'b', id, NOW(3), NOW(3)"
                " FROM users WHERE username = %s",
                (f"direct-{writer.username}", writer.username),
            )
        assert applied(cluster, "mysql-replica", primary_position(cluster), 10)
        pages = [writer_page(base, writer.username) for base in bases for _ in range(10)]
        ready = [http(base, "GET", "/readyz") for base in bases]
        lag = seconds_behind(cluster, "mysql-replica2")
    finally:
        stop.set()
        ticker.join(5)
        conn.close()

    # then every page has it: none came from the replica that lags too much
    say(f"mysql-replica2 {lag} s behind (max lag {MAX_LAG} s): readyz {[r.body for r in ready]}")
    listed = [f"direct-{writer.username}" in slugs(page) for page in pages]
    assert listed == [True] * len(pages), "read from a replica lagging more than the max lag"
    for answer in ready:
        assert answer.status == 200, answer
        assert (answer.body["mysql_replica_1"], answer.body["mysql_replica_2"]) == (
            "ok",
            "degraded",
        )


def test_the_writer_sees_their_writes_at_once_with_both_replicas_lagging(replicas):
    # given both replicas 2 s behind (under the max lag: both still serve reads)
    cluster = replicas
    bases = instance_urls(cluster, INSTANCES)
    writer, other = sign_up(cluster.url, "both"), sign_up(cluster.url, "other")
    theirs = publish(cluster.url, other, "Theirs").body["article"]["slug"]
    assert all(applied(cluster, name, primary_position(cluster), 20) for name in REPLICAS)
    for name in REPLICAS:
        cluster.set_replica_delay(2, name)
    mine_path = f"/api/articles?author={writer.username}"
    for base in bases:
        slugs(writer.call(base, "GET", mine_path))

    # when they publish on app1 and favorite on app2
    mine = publish(bases[0], writer, "Mine").body["article"]["slug"]
    favorited = writer.call(bases[1], "POST", f"/api/articles/{theirs}/favorite")
    by_me = [slugs(writer.call(base, "GET", mine_path)) for base in bases for _ in range(3)]
    feeds = [writer.call(base, "GET", "/api/articles?limit=50").body for base in bases]
    position = primary_position(cluster)
    behind = [not applied(cluster, name, position, 0) for name in REPLICAS]

    # then each of their reads on both instances shows both writes
    assert behind == [True, True], "a replica had caught up: nothing was tested"
    assert favorited.status == 200, favorited
    assert by_me == [[mine]] * 6
    for feed in feeds:
        item = next(article for article in feed["articles"] if article["slug"] == theirs)
        assert (item["favorited"], item["favoritesCount"]) == (True, 1)
