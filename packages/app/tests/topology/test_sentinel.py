"""Redis Sentinel: a logout or a password change while the replica lags, then the master
SIGKILLed.

The failover scenarios run on an imflask-cluster of their own
(packages/cluster/tests/test_failover_topology.py). This one stays on
testkit's processes because it needs what the cluster does not offer: a Redis
replica paused with SIGSTOP while the master's replication stream piles up.
It runs on its own Redis master + replica + three sentinels (testkit's
``sentinel_set``: quorum 2, down-after 1 s, failover-timeout 2 s), MariaDB
and MongoDB-wire processes, and an app served over real HTTP. The figure it
prints (``-s``) is the one in docs/deploy.md:

    uv run pytest -m topology packages/app/tests/topology/test_sentinel.py -s
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from imflask_controllers.tokens import mint_access_token
from testkit.cluster import until
from testkit.load import Outcome, http
from testkit.sentinel import SentinelSet

pytestmark = pytest.mark.topology

SECRET = "topology-secret-" + "x" * 32  # one secret: instances accept each other's tokens


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


def change_password(base_url: str, token: str, password: str) -> Outcome:
    return http(
        base_url,
        "PUT",
        "/api/user",
        json={"user": {"password": password}},
        headers={"Authorization": f"Token {token}"},
    )


def log_in(base_url: str, password: str) -> Outcome:
    user = {"email": "jake@example.org", "password": password}
    return http(base_url, "POST", "/api/users/login", json={"user": user})


def test_a_password_change_is_acknowledged_only_once_a_replica_has_its_revocation(
    sentinel_app, sentinel_set, serve
):
    # given an instance, and a replica that lags (as above)
    a = serve(sentinel_app())
    jake = sign_up(a, "jake")
    master = sentinel_set.master.client()
    sentinel_set.replica.pause()
    try:
        for i in range(32):
            master.set(f"lag:{i}", b"x" * 1_000_000)
        # when jake changes his password while the replica lags, and then the master dies
        lagging = change_password(a, jake.token, "a new password")
        sentinel_set.master.kill()
    finally:
        sentinel_set.replica.resume()
    sentinel_set.wait_for_new_master(sentinel_set.master)

    # then the change was refused and not applied: the old password still signs in
    assert lagging.status == 503
    assert until(lambda: log_in(a, "password1").status == 200, 10) >= 0
    assert log_in(a, "a new password").status == 401
    # and once the new master answers, the change voids the old token there
    changed = change_password(a, jake.token, "a new password")
    assert changed.status == 200
    assert whoami(a, jake.token).status == 401
    assert whoami(a, changed.body["user"]["token"]).status == 200
