"""Redis Sentinel: the master SIGKILLed under load, and what the app and the worker do.

Each test runs on its own Redis master + replica + three sentinels (testkit's
``sentinel_set``: quorum 2, down-after 1 s, failover-timeout 2 s), MariaDB
and MongoDB-wire processes, and apps served over real HTTP. The figures each
test prints (``-s``) are the ones in docs/deploy.md:

    uv run pytest -m topology packages/app/tests/topology/test_sentinel.py -s
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from imflask_controllers.tokens import mint_access_token
from imflask_models.breaker import CircuitBreaker
from testkit.fixtures import worker_environment
from testkit.load import Outcome, by_status, http, run_load, summary
from testkit.sentinel import SentinelSet
from testkit.servers import Program

pytestmark = pytest.mark.topology

SECRET = "topology-secret-" + "x" * 32  # one secret: instances accept each other's tokens
RETRY_EVERY = CircuitBreaker("x", lambda: None).retry_every
SLACK = 0.5  # a shared 2-core machine: a probe's answer, a request's own work
WORKER = Path(sys.executable).parent / "imflask-worker"


@dataclass(frozen=True)
class Author:
    username: str
    token: str
    id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


def sign_up(base_url: str, username: str) -> Author:
    user = {"username": username, "email": f"{username}@example.org", "password": "password1"}
    answer = http(base_url, "POST", "/api/users", json={"user": user})
    assert answer.status == 201, answer
    token = answer.body["user"]["token"]
    return Author(username, token, _user_id(token))


def _user_id(token: str) -> int:
    from imflask_controllers.tokens import read_access_token

    return read_access_token(token, secret=SECRET).user_id


def publish(base_url: str, author: Author, title: str, body: str = "body") -> Outcome:
    article = {"article": {"title": title, "description": "d", "body": body}}
    return http(base_url, "POST", "/api/articles", json=article, headers=author.headers)


def log_out(base_url: str, token: str) -> Outcome:
    return http(base_url, "POST", "/api/auth/logout", headers={"Authorization": f"Token {token}"})


def whoami(base_url: str, token: str) -> Outcome:
    return http(base_url, "GET", "/api/user", headers={"Authorization": f"Token {token}"})


def report(title: str, **figures: object) -> None:
    print(f"\n[{title}] " + ", ".join(f"{k}={v}" for k, v in figures.items()))


@pytest.fixture
def sentinel_app(fault_app, sentinel_set: SentinelSet):
    """``sentinel_app(**overrides)``: a testing app whose Redis is the sentinel set."""

    def make(**overrides):
        return fault_app(redis_url=sentinel_set.url, secret_key=SECRET, **overrides)

    return make


def kill_master_during(load, sentinel_set: SentinelSet, *, after: float) -> dict[str, float]:
    """Run ``load()`` in a thread, SIGKILL the master ``after`` s into it, and return
    when it was killed and when every sentinel named a new master that says so."""
    result: dict[str, object] = {}
    thread = threading.Thread(target=lambda: result.update(outcomes=load()), daemon=True)
    thread.start()
    time.sleep(after)
    old = sentinel_set.current_master()
    assert old is sentinel_set.master
    killed = time.monotonic()
    old.kill()
    new = sentinel_set.wait_for_new_master(old)
    elected = time.monotonic()
    thread.join(120)
    assert new is sentinel_set.replica
    return {"killed": killed, "elected": elected, "outcomes": result["outcomes"]}


# The master SIGKILLed under load -----------------------------------------------------


def test_killing_the_master_under_load_costs_503s_only_until_a_new_master_is_elected(
    sentinel_app, sentinel_set, serve
):
    # given two instances on the sentinel set, an article, and a logout done before
    a, b = serve(sentinel_app()), serve(sentinel_app())
    jake = sign_up(a, "jake")
    slug = publish(a, jake, "Failover").body["article"]["slug"]
    anne = sign_up(a, "anne")
    assert log_out(a, anne.token).status == 204
    assert whoami(b, anne.token).status == 401
    tokens = [mint_access_token(secret=SECRET, user_id=jake.id, ttl_seconds=600)
              for _ in range(4000)]  # fmt: skip

    def send(i: int) -> Outcome:
        base = (a, b)[i % 2]
        kind = i % 4
        if kind == 0:  # needs Redis: the revocation must be written (and confirmed)
            return log_out(base, tokens[i // 4])
        if kind == 1:
            return http(base, "GET", f"/api/articles/{slug}")
        if kind == 2:
            return http(base, "GET", "/api/articles?limit=5")
        return http(base, "GET", "/api/tags")

    # when the master is SIGKILLed 2 s into 12 s of load from 6 threads
    run = kill_master_during(
        lambda: run_load(send, threads=6, seconds=12.0), sentinel_set, after=2.0
    )
    outcomes, killed, elected = run["outcomes"], run["killed"], run["elected"]

    # then reads answer 200 throughout, nothing answers 5xx but 503, and a logout
    # answers 503 only from the kill until the new master was elected (+ one probe)
    reads = [o for o in outcomes if o.index % 4]
    logouts = [o for o in outcomes if not o.index % 4]
    refused = [o for o in logouts if o.status == 503]
    window = (
        (max(o.finished for o in refused) - min(o.started for o in refused)) if refused else 0.0
    )
    report("sentinel: master SIGKILLed under load",
           failover_s=round(elected - killed, 2), logout_503_window_s=round(window, 2),
           reads=summary(reads), logouts=summary(logouts))  # fmt: skip
    assert by_status(reads) == {200: len(reads)}, summary(reads)
    assert set(by_status(logouts)) <= {204, 503}, summary(logouts)
    assert refused, "the kill cost no 503 at all: was the master really used?"
    assert all(o.finished >= killed for o in refused), summary(refused)
    assert all(o.started <= elected + RETRY_EVERY + SLACK for o in refused), summary(refused)
    assert elected - killed < 10, "the sentinels took too long"

    # and the logout done before the kill, and every logout answered 204, still hold
    acknowledged = [tokens[o.index // 4] for o in logouts if o.status == 204]
    assert whoami(a, anne.token).status == 401
    assert whoami(b, anne.token).status == 401
    still_valid = [t for t in acknowledged[::10] if whoami((a, b)[len(t) % 2], t).status != 401]
    assert still_valid == []


# Security state ----------------------------------------------------------------------


def test_a_logout_is_acknowledged_only_once_a_replica_has_it_so_a_failover_keeps_it(
    sentinel_app, sentinel_set, serve
):
    # given an instance, and a replica that lags: paused, with 32 MB of replication
    # stream waiting for it in the master (more than the kernel's socket buffers hold)
    a = serve(sentinel_app())
    jake = sign_up(a, "jake")
    tokens = [mint_access_token(secret=SECRET, user_id=jake.id, ttl_seconds=600)
              for _ in range(3)]  # fmt: skip
    master = sentinel_set.master.client()
    sentinel_set.replica.pause()
    try:
        for i in range(32):
            master.set(f"lag:{i}", b"x" * 1_000_000)
        # when the user logs out while the replica lags, and then the master dies
        answers = [log_out(a, token) for token in tokens]
        sentinel_set.master.kill()
    finally:
        sentinel_set.replica.resume()
    began = time.monotonic()
    sentinel_set.wait_for_new_master(sentinel_set.master)
    report("sentinel: logout while the replica lags", statuses=[o.status for o in answers],
           elapsed_s=[round(o.elapsed, 2) for o in answers],
           failover_s=round(time.monotonic() - began, 2))  # fmt: skip

    # then every logout acknowledged is still in force on the new master (without the
    # replica's confirmation the app said 204 and the tokens worked again here)...
    acknowledged = [t for t, o in zip(tokens, answers, strict=True) if o.status == 204]

    def redis_answers() -> (
        bool
    ):  # a logout needs Redis: answered, this instance's breaker is closed
        fresh = mint_access_token(secret=SECRET, user_id=jake.id, ttl_seconds=600)
        return log_out(a, fresh).status == 204

    assert until(redis_answers, 10) >= 0
    assert [whoami(a, t).status for t in acknowledged] == [401] * len(acknowledged)
    # ...because none was: the replica that is master now never had them
    assert [o.status for o in answers] == [503, 503, 503]
    assert all(o.elapsed < 1.0 for o in answers)
    # and the user can log out for real now that the new master answers
    assert log_out(a, tokens[0]).status == 204
    assert whoami(a, tokens[0]).status == 401


# The cache -----------------------------------------------------------------------------


def test_an_article_updated_during_the_failover_is_fresh_on_every_instance_after(
    sentinel_app, sentinel_set, serve
):
    # given two instances, and five articles cached by instance B
    a, b = serve(sentinel_app()), serve(sentinel_app())
    jake = sign_up(a, "jake")
    slugs = [publish(a, jake, f"Cached {i}", body="old").body["article"]["slug"]
             for i in range(5)]  # fmt: skip
    for slug in slugs:
        for _ in range(2):
            assert http(b, "GET", f"/api/articles/{slug}").body["article"]["body"] == "old"

    # when the master is killed and A updates every article before a new master is elected
    sentinel_set.master.kill()
    killed = time.monotonic()
    for slug in slugs:
        change = {"article": {"body": "new"}}
        answer = http(a, "PUT", f"/api/articles/{slug}", json=change, headers=jake.headers)
        assert answer.status == 200, answer
    assert sentinel_set.current_master() is not sentinel_set.replica, "elected too soon"
    sentinel_set.wait_for_new_master(sentinel_set.master)
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
    report("sentinel: articles updated during the failover",
           failover_s=round(elected - killed, 2),
           stale_reads_after_election=len(stale_after),
           last_stale_s=round(max(stale_after, default=0.0), 3))  # fmt: skip
    assert max(stale_after, default=0.0) <= RETRY_EVERY + SLACK


# The worker ----------------------------------------------------------------------------


def test_every_job_enqueued_around_and_during_the_failover_runs_once(
    sentinel_app, sentinel_set, serve, tmp_path
):
    # given an instance queuing its jobs, a real imflask-worker on the sentinel set,
    # and anne following jake
    app = sentinel_app(jobs_inline=False)
    a = serve(app)
    env = {**worker_environment(app), "FLASK_INSTANCE_PATH": str(tmp_path / "instance"),
           "FLASK_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}  # fmt: skip
    assert "FLASK_REDIS_SENTINELS" in env
    assert "FLASK_REDIS_URL" not in env
    queue_master = sentinel_set.master.client()

    def registered() -> bool:
        return bool(queue_master.exists("rq:worker:sentinel-worker"))

    worker = Program([str(WORKER), "--name", "sentinel-worker"], env=env,
                     data_dir=tmp_path / "worker", ready=registered)  # fmt: skip
    worker.start(timeout=30)
    jake, anne = sign_up(a, "jake"), sign_up(a, "anne")
    assert http(a, "POST", "/api/profiles/jake/follow", headers=anne.headers).status == 200
    published: list[tuple[str, float]] = []

    def publish_one(title: str) -> None:
        answer = publish(a, jake, title)
        assert answer.status == 201, answer
        published.append((answer.body["article"]["slug"], time.monotonic()))

    publish_one("Before")
    assert until(lambda: inbox(a, anne) == {published[0][0]}, 15) >= 0

    # when five articles are published just before the master is SIGKILLed, and ten
    # more while the sentinels elect a new one
    for i in range(5):
        publish_one(f"Just before {i}")
    sentinel_set.master.kill()
    killed = time.monotonic()
    while sentinel_set.current_master() is not sentinel_set.replica:
        if len(published) < 16:
            publish_one(f"During {len(published)}")
        time.sleep(0.15)
    elected = time.monotonic()
    during = [slug for slug, at in published if at > killed]

    # then anne is notified of every article exactly once, and the worker resumes
    expected = {slug for slug, _ in published}
    first_during, seen = None, set()
    deadline = time.monotonic() + 120
    while seen != expected and time.monotonic() < deadline:
        seen = inbox(a, anne)
        if first_during is None and seen & set(during):
            first_during = time.monotonic()
        time.sleep(0.1)
    all_in = time.monotonic()
    assert seen == expected, f"missing {expected - seen}\n{worker.log_tail(60)}"
    total = http(a, "GET", "/api/notifications?limit=100", headers=anne.headers).body
    report("sentinel: jobs around the failover", published=len(published),
           during_failover=len(during), failover_s=round(elected - killed, 2),
           first_job_after_election_s=round((first_during or all_in) - elected, 2),
           all_jobs_after_election_s=round(all_in - elected, 2))  # fmt: skip
    assert total["notificationsCount"] == len(expected)
    assert len(during) >= 5
    worker.kill()


def inbox(base_url: str, user: Author) -> set[str]:
    answer = http(base_url, "GET", "/api/notifications?limit=100", headers=user.headers)
    if answer.status != 200:
        return set()
    return {n["article"]["slug"] for n in answer.body["notifications"]}


def until(condition, timeout: float) -> float:
    """Seconds until ``condition()`` held; AssertionError after ``timeout``."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(0.1)
    return time.monotonic() - began
