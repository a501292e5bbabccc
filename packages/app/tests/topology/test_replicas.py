"""A MariaDB primary with a replica lagging 2 s (MASTER_DELAY) and two app instances.

Each test starts its own primary (binary log, GTIDs) and replica with testkit,
one Redis and one MongoDB-wire server, and two app instances on them served
over HTTP, as two machines of one deployment would be; then asserts each
failure issue 10 measured is gone:

- a list read right after a write is never cached from the lagging replica;
- the writer sees their own writes at once, on both instances;
- a hung replica costs one deadline per process, then lists come from the
  primary with 200, and ``/readyz`` says ``degraded`` with 200;
- a replica lagging more than ``FLASK_MYSQL_REPLICA_MAX_LAG`` is not read.

``uv run pytest -m topology -s packages/app/tests/topology/test_replicas.py``
prints the windows measured (the figures in docs/deploy.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from testkit.load import Outcome, http
from testkit.servers import MariaDbServer, start_replica

pytestmark = pytest.mark.topology

DELAY = 2  # the replica's MASTER_DELAY, seconds
MAX_LAG = 0.5  # in the test of a replica lagging more than FLASK_MYSQL_REPLICA_MAX_LAG
DEADLINE = 1.0  # testkit's fault_app: read timeout 1 s (connect 0.5 s)
SECRET_KEY = "topology-test-secret-key-of-32-characters-or-more"
FAST = 0.5  # an answer that waited on no deadline, on a shared 2-core machine


# Servers and instances --------------------------------------------------------------


@pytest.fixture
def primary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDbServer]:
    server = MariaDbServer(log_bin=True, data_dir=tmp_path_factory.mktemp("primary"))
    try:
        yield server.start()
    finally:
        server.kill()
        server.remove_data()


@pytest.fixture
def replica(
    primary: MariaDbServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MariaDbServer]:
    server = start_replica(primary, delay=DELAY, data_dir=tmp_path_factory.mktemp("replica"))
    try:
        yield server
    finally:
        server.kill()
        server.remove_data()


@pytest.fixture
def instances(fault_app, serve, primary, replica) -> Callable[..., list[str]]:
    """``instances(n=2, **settings)``: base URLs of ``n`` app instances on the same stores
    (the replica caught up with the schema before they answer)."""

    def start(n: int = 2, **settings: object) -> list[str]:
        shared = {"mysql_uri": primary.uri(), "mysql_replica_uri": replica.uri()}
        shared["secret_key"] = SECRET_KEY  # a token from one instance works on the other
        apps = [fault_app(**shared, **settings) for _ in range(n)]
        caught_up(primary, replica)
        return [serve(app) for app in apps]

    return start


def primary_position(primary: MariaDbServer) -> str:
    conn = primary.connect(database=None)
    with conn, conn.cursor() as cursor:
        cursor.execute("SELECT @@gtid_binlog_pos")
        return cursor.fetchone()[0]


def caught_up(primary: MariaDbServer, replica: MariaDbServer) -> None:
    assert replica.wait_for_gtid(primary_position(primary), timeout=DELAY + 20)


def lagging(primary: MariaDbServer, replica: MariaDbServer) -> bool:
    """The replica has not applied everything the primary wrote (the test tests the lag)."""
    return not replica.wait_for_gtid(primary_position(primary), timeout=0)


# Conduit over HTTP ------------------------------------------------------------------


def sign_up(base: str, username: str) -> dict[str, str]:
    user = {"username": username, "email": f"{username}@example.org", "password": "password1"}
    answer = http(base, "POST", "/api/users", json={"user": user})
    assert answer.status == 201, answer
    return {"Authorization": f"Token {answer.body['user']['token']}"}


def publish(base: str, headers: dict[str, str], title: str, tags: list[str] = ()) -> str:
    article = {"title": title, "description": "d", "body": "b", "tagList": list(tags)}
    answer = http(base, "POST", "/api/articles", json={"article": article}, headers=headers)
    assert answer.status == 201, answer
    return answer.body["article"]["slug"]


def listed(base: str, path: str, headers: dict[str, str] | None = None) -> Outcome:
    answer = http(base, "GET", path, headers=headers)
    assert answer.status == 200, answer
    return answer


def slugs(answer: Outcome) -> list[str]:
    return [article["slug"] for article in answer.body["articles"]]


# The tests --------------------------------------------------------------------------


def test_a_list_read_right_after_a_write_is_never_cached_from_the_lagging_replica(
    instances, primary, replica
):
    a, b = instances()
    writer = sign_up(a, "writer")
    paths = ["/api/articles", "/api/articles?author=writer", "/api/articles?tag=news"]
    for base in (a, b):  # both instances hold these pages in the cache
        for path in paths:
            listed(base, path)

    slug = publish(a, writer, "Fresh news", tags=["news"])
    written = time.monotonic()
    first_seen: dict[tuple[str, str], float] = {}
    replica_behind = None
    while time.monotonic() - written < DELAY + 1.0:
        for base in (a, b):
            for path in paths:  # anonymous readers: no write of their own to wait for
                if slug in slugs(listed(base, path)):
                    first_seen.setdefault((base, path), time.monotonic() - written)
        if replica_behind is None:
            replica_behind = lagging(primary, replica)
        time.sleep(0.05)
    still_listed = [slug in slugs(listed(base, path)) for base in (a, b) for path in paths]

    windows = sorted(round(window, 3) for window in first_seen.values())
    print(f"\nnew article first listed by other readers after {windows} s (lag {DELAY} s)")
    assert replica_behind, "the replica had caught up already: nothing was tested"
    assert all(still_listed), "a page from the lagging replica was cached under the new generation"
    assert len(first_seen) == 2 * len(paths)
    # The pages were filled from the primary: the replica had not applied the write
    # behind the new generation. Not one lag late, and never FLASK_CACHE_TTL late.
    assert max(windows) < FAST


def test_the_writer_sees_their_own_writes_at_once_on_both_instances(instances, primary, replica):
    a, b = instances()
    writer = sign_up(a, "writer")
    other = sign_up(a, "other")
    theirs = publish(a, other, "Someone else's")
    caught_up(primary, replica)
    for base in (a, b):
        listed(base, "/api/articles?author=writer", writer)
        listed(base, "/api/articles", writer)

    mine = publish(a, writer, "Mine")
    by_me = [slugs(listed(base, "/api/articles?author=writer", writer)) for base in (a, b)]
    everything = [slugs(listed(base, "/api/articles", writer)) for base in (a, b)]
    # That page is cached now; a favorite changes only its count and the viewer's flag.
    favorited = http(b, "POST", f"/api/articles/{theirs}/favorite", headers=writer)
    assert favorited.status == 200, favorited
    after_favorite = [listed(base, "/api/articles", writer).body for base in (a, b)]
    replica_behind = lagging(primary, replica)

    assert by_me == [[mine], [mine]]
    assert everything == [[mine, theirs], [mine, theirs]]
    for page in after_favorite:
        item = next(article for article in page["articles"] if article["slug"] == theirs)
        # favorited: the viewer's own flag (their position); the count: its cache entry
        assert (item["favorited"], item["favoritesCount"]) == (True, 1)
    assert replica_behind, "the replica had caught up already: nothing was tested"


def test_a_hung_replica_costs_one_deadline_per_process_then_lists_come_from_the_primary(
    instances, primary, replica
):
    a, b = instances()
    writer = sign_up(a, "writer")
    for n in range(3):
        publish(a, writer, f"Article {n}")
    caught_up(primary, replica)
    for base in (a, b):  # each instance has pooled connections to the replica
        listed(base, "/api/articles?offset=100")

    outcomes: dict[str, list[Outcome]] = {a: [], b: []}
    with replica.paused():
        began = time.monotonic()
        for offset in range(12):  # new pages (each instance its own): read from MySQL
            for first, base in ((0, a), (50, b)):
                outcomes[base].append(http(base, "GET", f"/api/articles?offset={first + offset}"))
        ready = [http(base, "GET", "/readyz") for base in (a, b)]
        paused_for = time.monotonic() - began
    resumed = time.monotonic()
    back = None
    while time.monotonic() - resumed < 10:
        if all(http(base, "GET", "/readyz").body.get("mysql_replica") == "ok" for base in (a, b)):
            back = time.monotonic() - resumed
            break
        time.sleep(0.1)

    for base, answers in outcomes.items():
        times = [round(answer.elapsed, 3) for answer in answers]
        print(f"\n{base}: lists while the replica hung ({paused_for:.1f} s): {times} s")
        assert [answer.status for answer in answers] == [200] * len(answers)
        assert {answer.body["articlesCount"] for answer in answers} == {3}
        slow = [answer for answer in answers if answer.elapsed > FAST]
        assert len(slow) <= 1, "more than one deadline in one process"
        assert max(answer.elapsed for answer in answers) < DEADLINE + FAST
    for answer in ready:
        assert answer.status == 200, answer
        assert answer.body["mysql"] == "ok"
        assert answer.body["mysql_replica"] == "degraded"
    print(f"replica ok again in /readyz {back} s after the resume")
    assert back is not None


def test_a_replica_lagging_more_than_the_max_lag_is_not_read(instances, primary, replica):
    # Seconds_Behind_Master counts whole seconds: this replica shows 1 to 2 while it
    # lags 2 s under a steady trickle of writes.
    (base,) = instances(n=1, mysql_replica_max_lag=MAX_LAG)
    writer = sign_up(base, "writer")
    publish(base, writer, "Through the app")
    conn = primary.connect(autocommit=True)
    with conn.cursor() as cursor:
        cursor.execute("CREATE TABLE ticks (id INT AUTO_INCREMENT PRIMARY KEY)")
    caught_up(primary, replica)
    stop = threading.Event()

    def keep_writing() -> None:  # the replica keeps lagging DELAY seconds
        with conn.cursor() as cursor:
            while not stop.is_set():
                cursor.execute("INSERT INTO ticks () VALUES ()")
                time.sleep(0.1)

    writer_thread = threading.Thread(target=keep_writing, daemon=True)
    writer_thread.start()
    try:
        time.sleep(DELAY + 0.5)  # lagging more than MAX_LAG now, checked within 1 s
        with conn.cursor() as cursor:  # behind the app's back: no cache generation moves
            cursor.execute(
                "INSERT INTO articles (slug, title, description, body, author_id, created_at,"
                " updated_at) SELECT 'direct', 'Direct', 'd', 'b', id, NOW(3), NOW(3)"
                " FROM users WHERE username = 'writer'"
            )
        page = listed(base, "/api/articles?author=writer&limit=7")  # never cached before
        ready = http(base, "GET", "/readyz")
        lag = replica.replication_status()["Seconds_Behind_Master"]
    finally:
        stop.set()
        writer_thread.join(5)
        conn.close()

    print(f"\nreplica lag {lag} s > max lag {MAX_LAG} s: readyz {ready.body}")
    assert "direct" in slugs(page), "read from a replica lagging more than the max lag"
    assert ready.status == 200
    assert ready.body["mysql_replica"] == "degraded"
