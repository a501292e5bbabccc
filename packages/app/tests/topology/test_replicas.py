"""A hung MySQL replica (SIGSTOP), on a primary and replica of the test's own.

The replica scenarios run on imflask-cluster (packages/cluster/tests:
test_replica_topology.py, test_two_replicas_topology.py). This one stays on
testkit's processes because it needs what the cluster does not offer: a
replica paused with SIGSTOP, which accepts connections and never answers.
The test starts its own primary (binary log, GTIDs) and replica lagging 2 s
(MASTER_DELAY), one Redis and one MongoDB-wire server, and two app instances
served over HTTP; then asserts that the hung replica costs one deadline per
process, that lists then come from the primary with 200, and that ``/readyz``
says ``degraded`` with 200. Two more use the same processes to check that a
signed-in request reads the viewer's write position once, with the account, and
that the next request served by the same thread asks again.

``uv run pytest -m topology -s packages/app/tests/topology/test_replicas.py``
prints the times measured (the figures in docs/deploy.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from testkit.load import Outcome, http
from testkit.servers import MariaDbServer, start_replica

pytestmark = pytest.mark.topology

DELAY = 2  # the replica's MASTER_DELAY, seconds
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


# The tests --------------------------------------------------------------------------


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


def get_calls(server) -> int:
    """How many GETs ``server`` (a Redis of this test's) has answered since its last reset."""
    with server.client() as client:
        return int(client.info("commandstats").get("cmdstat_get", {}).get("calls", 0))


def test_a_replica_read_of_a_signed_in_request_asks_redis_nothing_more_for_the_viewers_writes(
    instances, primary, replica, redis_server
):
    # given a writer whose last write the replica has applied (their position in Redis)
    (a,) = instances(n=1)
    writer = sign_up(a, "writer")
    publish(a, writer, "Mine")
    caught_up(primary, replica)
    with redis_server.client() as client:
        assert client.keys("*written-by*"), "the writer's position is kept in Redis"
        client.config_resetstat()

    # when they read a list page (from the replica, its load, counts and flags)
    answer = listed(a, "/api/articles?limit=5", headers=writer)

    # then their position came with their account's MGET: not one GET more
    assert [article["title"] for article in answer.body["articles"]] == ["Mine"]
    assert get_calls(redis_server) == 0


def test_a_page_of_the_next_request_in_the_same_thread_sees_a_write_made_meanwhile_elsewhere(
    fault_app, serve, primary, replica
):
    # given instance A serving this thread (Flask's test client) and instance B over HTTP,
    # and a user signed in on A to the API (a token) and to the pages (a cookie)
    shared = {"mysql_uri": primary.uri(), "mysql_replica_uri": replica.uri()}
    app = fault_app(**shared, secret_key=SECRET_KEY)
    b = serve(fault_app(**shared, secret_key=SECRET_KEY))
    caught_up(primary, replica)
    author = sign_up(b, "author")
    slug = publish(b, author, "Dragons")
    client = app.test_client()
    user = {"username": "reader", "email": "reader@example.org", "password": "password1"}
    token = client.post("/api/users", json={"user": user}).get_json()["user"]["token"]
    login = client.get("/login").get_data(as_text=True)
    csrf = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed_in = client.post(
        "/login",
        data={"email": user["email"], "password": user["password"], "csrf_token": csrf},
    )
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)[:300]
    caught_up(primary, replica)
    headers = {"Authorization": f"Token {token}"}
    assert client.get("/api/articles", headers=headers).status_code == 200  # "no writes lately"

    # when the user favorites the article on B (the replica applies it 2 s later) and
    # then, within those 2 s, opens the home page on A in this thread
    favorited = http(b, "POST", f"/api/articles/{slug}/favorite", headers=headers)
    assert favorited.status == 200, favorited
    page = client.get("/").get_data(as_text=True)

    # then the page shows it favorited: the position the API request read is not reused
    assert 'aria-pressed="true"' in page
