"""Redis Sentinel failover on an imflask-cluster of its own: the master SIGKILLed.

A failover leaves the cluster changed for good (the replica is master, the old
master a replica), so these tests run on a cluster of this module's own
(``imflask-cluster up DIR --instances 2``) and never on the session's. Its
sentinels and Redis nodes require passwords (``requirepass`` on both, and
``sentinel auth-pass``): the app and the workers reach the master only by
sending ``FLASK_REDIS_SENTINEL_PW`` to the sentinels and ``FLASK_REDIS_PW``
to the master they name. Before each test the killed master is started again
(as a replica of the new one) and every sentinel knows it.

``uv run pytest -m topology packages/cluster/tests/test_failover_topology.py -s``
prints the windows measured (the figures in docs/deploy.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from imflask_cluster import Cluster
from imflask_controllers.tokens import mint_access_token, read_access_token
from imflask_models.breaker import CircuitBreaker
from testkit.cluster import (
    User,
    instance_urls,
    named_master,
    publish,
    sign_up,
    started_cluster,
    until,
    wait_for_new_master,
    wait_redis_replicated,
)
from testkit.load import Outcome, by_status, http, run_load, summary

pytestmark = pytest.mark.topology

RETRY_EVERY = CircuitBreaker("x", lambda: None).retry_every
SLACK = 0.5  # a shared 2-core machine: a probe's answer, a request's own work
INSTANCES = ("app1", "app2")


def say(message: str) -> None:
    print(f"\n[failover] {message}", flush=True)


@pytest.fixture(scope="module")
def failover_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with started_cluster(tmp_path_factory.mktemp("failover"), "--instances", "2") as cluster:
        yield cluster


@pytest.fixture
def replicated(failover_cluster: Cluster) -> Cluster:
    """The module's cluster with every node running and Redis replicated again."""
    cluster = failover_cluster
    cluster.reload()
    for node in cluster.nodes.values():
        if not node.alive:
            cluster.start(node.name)  # a Redis node starts as a replica of today's master
    wait_redis_replicated(cluster)
    cluster.wait_in_rotation(INSTANCES, timeout=30)
    return cluster


def secret(cluster: Cluster) -> str:
    return cluster.environment["FLASK_SECRET_KEY"]


def user_id(cluster: Cluster, user: User) -> int:
    return read_access_token(user.token, secret=secret(cluster)).user_id


def log_out(base: str, token: str) -> Outcome:
    return http(base, "POST", "/api/auth/logout", headers={"Authorization": f"Token {token}"})


def whoami(base: str, token: str) -> Outcome:
    return http(base, "GET", "/api/user", headers={"Authorization": f"Token {token}"})


def kill_master(cluster: Cluster) -> tuple[str, float]:
    """SIGKILL the Redis master the sentinels name; (its name, when the signal went)."""
    master = named_master(cluster)
    assert master is not None, "the sentinels do not agree on a master"
    killed = time.monotonic()
    cluster.kill(master)  # returns once it is gone
    return master, killed


# The master SIGKILLed under load -----------------------------------------------------


def test_killing_the_master_under_load_costs_503s_only_until_a_new_master_is_elected(
    replicated,
):
    # given an article, a logout done before, and tokens to log out under load
    cluster = replicated
    front = cluster.url
    jake = sign_up(front, "jake")
    slug = publish(front, jake, "Failover").body["article"]["slug"]
    anne = sign_up(front, "anne")
    assert log_out(front, anne.token).status == 204
    tokens = [mint_access_token(secret=secret(cluster), user_id=user_id(cluster, jake),
                                ttl_seconds=600) for _ in range(4000)]  # fmt: skip

    def send(i: int) -> Outcome:
        kind = i % 4
        if kind == 0:  # needs Redis: the revocation must be written (and confirmed)
            return log_out(front, tokens[i // 4])
        if kind == 1:
            return http(front, "GET", f"/api/articles/{slug}")
        if kind == 2:
            return http(front, "GET", "/api/articles?limit=5")
        return http(front, "GET", "/api/tags")

    # when the master is SIGKILLed 2 s into 12 s of load through the front door
    result: dict[str, list[Outcome]] = {}
    load = threading.Thread(
        target=lambda: result.update(outcomes=run_load(send, threads=6, seconds=12.0)),
        daemon=True,
    )
    load.start()
    time.sleep(2.0)
    old, killed = kill_master(cluster)
    new = wait_for_new_master(cluster, old)
    elected = time.monotonic()
    load.join(120)
    outcomes = result["outcomes"]

    # then reads answer 200 throughout, nothing answers 5xx but 503, and a logout
    # answers 503 only from the kill until the new master was elected (+ one probe)
    reads = [o for o in outcomes if o.index % 4]
    logouts = [o for o in outcomes if not o.index % 4]
    refused = [o for o in logouts if o.status == 503]
    window = (
        (max(o.finished for o in refused) - min(o.started for o in refused)) if refused else 0.0
    )
    say(f"master {old} SIGKILLed under load: {new} elected after {elected - killed:.2f} s, "
        f"logouts answered 503 for {window:.2f} s; reads {summary(reads)}; "
        f"logouts {summary(logouts)}")  # fmt: skip
    assert by_status(reads) == {200: len(reads)}, summary(reads)
    assert set(by_status(logouts)) <= {204, 503}, summary(logouts)
    assert refused, "the kill cost no 503 at all: was the master really used?"
    assert all(o.finished >= killed for o in refused), summary(refused)
    assert all(o.started <= elected + RETRY_EVERY + SLACK for o in refused), summary(refused)
    assert elected - killed < 10, "the sentinels took too long"

    # and the logout done before the kill, and every logout answered 204, still hold
    acknowledged = [tokens[o.index // 4] for o in logouts if o.status == 204]
    assert whoami(front, anne.token).status == 401
    still_valid = [t for t in acknowledged[::10] if whoami(front, t).status != 401]
    assert still_valid == []


# The cache -----------------------------------------------------------------------------


def test_an_article_updated_during_the_failover_is_fresh_on_every_instance_after(replicated):
    # given five articles cached by app2
    cluster = replicated
    a, b = instance_urls(cluster, INSTANCES)
    jake = sign_up(a, "jake")
    slugs = [publish(a, jake, f"Cached {i}").body["article"]["slug"] for i in range(5)]
    for slug in slugs:
        for _ in range(2):
            assert http(b, "GET", f"/api/articles/{slug}").body["article"]["body"] != "new"

    # when the master is killed and app1 updates every article before a new one is elected
    old, killed = kill_master(cluster)
    for slug in slugs:
        answer = jake.call(a, "PUT", f"/api/articles/{slug}", json={"article": {"body": "new"}})
        assert answer.status == 200, answer
    assert named_master(cluster) == old, "elected before the updates were done"
    wait_for_new_master(cluster, old)
    elected = time.monotonic()

    # then once the new master answers, both instances serve the new bodies, never the old
    stale_after: list[float] = []
    deadline = elected + RETRY_EVERY + SLACK
    while time.monotonic() < deadline + 2:
        for base in (a, b):
            for slug in slugs:
                body = http(base, "GET", f"/api/articles/{slug}").body["article"]["body"]
                if body != "new":
                    stale_after.append(time.monotonic() - elected)
    say(f"articles updated during the failover ({elected - killed:.2f} s): "
        f"{len(stale_after)} stale reads after the election, the last "
        f"{max(stale_after, default=0.0):.3f} s after it")  # fmt: skip
    assert max(stale_after, default=0.0) <= RETRY_EVERY + SLACK


# The workers ---------------------------------------------------------------------------


def inbox(base: str, user: User) -> set[str]:
    answer = user.call(base, "GET", "/api/notifications?limit=100")
    if answer.status != 200:
        return set()
    return {n["article"]["slug"] for n in answer.body["notifications"]}


def test_every_job_enqueued_around_and_during_the_failover_runs_once(replicated):
    # given the cluster's two imflask-worker processes, and anne following jake
    cluster = replicated
    a, _ = instance_urls(cluster, INSTANCES)
    jake, anne = sign_up(a, "jake"), sign_up(a, "anne")
    assert anne.call(a, "POST", f"/api/profiles/{jake.username}/follow").status == 200
    published: list[tuple[str, float]] = []

    def publish_one(title: str) -> None:
        answer = publish(a, jake, title)
        assert answer.status == 201, answer
        published.append((answer.body["article"]["slug"], time.monotonic()))

    publish_one("Before")
    until(lambda: inbox(a, anne) == {published[0][0]}, 30)

    # when five articles are published just before the master is SIGKILLed, and up to
    # ten more while the sentinels elect a new one
    for i in range(5):
        publish_one(f"Just before {i}")
    old, killed = kill_master(cluster)
    while named_master(cluster) in (old, None):
        if len(published) < 16:
            publish_one(f"During {len(published)}")
        time.sleep(0.15)
    elected = time.monotonic()
    during = [slug for slug, at in published if at > killed]

    # then anne is notified of every article exactly once, and the workers go on
    expected = {slug for slug, _ in published}
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    while seen != expected and time.monotonic() < deadline:
        seen = inbox(a, anne)
        time.sleep(0.1)
    all_in = time.monotonic()
    total = anne.call(a, "GET", "/api/notifications?limit=100").body
    say(
        f"jobs around the failover ({elected - killed:.2f} s): {len(published)} published, "
        f"{len(during)} during it; all notified {all_in - elected:.1f} s after the election"
    )
    assert seen == expected, f"missing {expected - seen}"
    assert total["notificationsCount"] == len(expected)
    assert len(during) >= 5
