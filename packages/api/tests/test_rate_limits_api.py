"""Rate limits on logins, registrations and writes, held in Redis across processes."""

from __future__ import annotations

import pytest

from imflask_core.config import RateLimit


def attempt_login(client, email="jake@jake.jake", ip="10.0.0.1"):
    return client.post(
        "/api/users/login",
        json={"user": {"email": email, "password": "wrong password"}},
        environ_base={"REMOTE_ADDR": ip},
    )


@pytest.fixture
def strict(make_app):
    return make_app(
        rate_limit_auth=RateLimit(3, 60), rate_limit_writes=RateLimit(2, 60)
    ).test_client()


def test_a_fourth_login_in_a_minute_is_429_with_retry_after(strict):
    statuses = [attempt_login(strict).status_code for _ in range(4)]
    response = attempt_login(strict)

    assert statuses == [401, 401, 401, 429]
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.get_json()["errors"]["requests"][0].startswith("are too many")


def test_the_account_limit_holds_across_client_addresses(strict):
    for i in range(3):
        attempt_login(strict, ip=f"10.0.0.{i}")

    assert attempt_login(strict, ip="10.9.9.9").status_code == 429
    assert attempt_login(strict, email="other@jake.jake", ip="10.9.9.9").status_code == 401


def test_the_address_limit_holds_across_accounts(strict):
    for i in range(3):
        attempt_login(strict, email=f"user{i}@jake.jake")

    assert attempt_login(strict, email="fresh@jake.jake").status_code == 429
    assert attempt_login(strict, email="fresh@jake.jake", ip="10.0.0.2").status_code == 401


def test_registrations_are_limited_too(strict):
    def register(i):
        return strict.post(
            "/api/users",
            json={"user": {"username": f"u{i}", "email": f"u{i}@x.io", "password": "12345678"}},
        )

    assert [register(i).status_code for i in range(4)] == [201, 201, 201, 429]


def test_limits_are_shared_by_every_app_process(make_app):
    limits = {"rate_limit_auth": RateLimit(3, 60)}
    one, two = make_app(**limits).test_client(), make_app(**limits).test_client()

    attempt_login(one)
    attempt_login(two)
    attempt_login(one)

    assert attempt_login(two).status_code == 429


def test_writes_are_limited_per_user(strict):
    token = strict.post(
        "/api/users",
        json={"user": {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}},
    ).get_json()["user"]["token"]
    headers = {"Authorization": f"Token {token}"}

    def write(i):
        return strict.post(
            "/api/articles",
            headers=headers,
            json={"article": {"title": f"t{i}", "description": "d", "body": "b"}},
        ).status_code

    assert [write(i) for i in range(3)] == [201, 201, 429]
    assert strict.get("/api/articles").status_code == 200  # reads are not limited


def test_development_and_testing_limits_are_generous(client):
    statuses = {attempt_login(client).status_code for _ in range(30)}

    assert statuses == {401}


def test_a_replayed_idempotent_write_is_answered_and_not_counted(strict):
    token = strict.post(
        "/api/users",
        json={"user": {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}},
    ).get_json()["user"]["token"]
    headers = {"Authorization": f"Token {token}"}

    def write(i, key=None):
        return strict.post(
            "/api/articles",
            headers={**headers, **({"Idempotency-Key": key} if key else {})},
            json={"article": {"title": f"t{i}", "description": "d", "body": "b"}},
        )

    first = write(0, key="once")
    replayed = write(0, key="once")
    statuses = [write(1).status_code, write(2).status_code]

    assert (first.status_code, replayed.status_code) == (201, 201)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert statuses == [201, 429]  # the limit of 2 counted the first and the second write
