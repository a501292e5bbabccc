"""Rate limits on logins, registrations and writes, held in Redis across processes."""

from __future__ import annotations

import time

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


def register_jake(client, ip="127.0.0.1"):
    return client.post(
        "/api/users",
        json={"user": {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}},
        environ_base={"REMOTE_ADDR": ip},
    )


def log_in_jake(client, ip):
    return client.post(
        "/api/users/login",
        json={"user": {"email": "jake@jake.jake", "password": "jakejake"}},
        environ_base={"REMOTE_ADDR": ip},
    )


def test_strangers_guessing_from_many_addresses_do_not_lock_the_owner_out(strict):
    # given jake signed up from his usual address
    assert register_jake(strict, ip="127.0.0.1").status_code == 201

    # when strangers guess his password from eleven other addresses
    guesses = [attempt_login(strict, ip=f"127.1.{i}.1").status_code for i in range(11)]

    # then the account's limit throttles them, and jake still gets in from home
    assert guesses == [401] * 3 + [429] * 8
    assert log_in_jake(strict, "127.0.0.1").status_code == 200
    assert log_in_jake(strict, "127.0.0.1").status_code == 200
    assert log_in_jake(strict, "127.9.9.9").status_code == 429  # a new address still counts


def test_the_owners_address_is_still_limited_per_address(strict):
    register_jake(strict, ip="127.0.0.1")
    assert log_in_jake(strict, "127.0.0.1").status_code == 200

    statuses = [attempt_login(strict, ip="127.0.0.1").status_code for _ in range(3)]

    assert statuses == [401, 401, 429]  # the address's limit counted the good login too


def test_a_trusted_address_behind_a_proxy_is_the_forwarded_one(make_app):
    client = make_app(rate_limit_auth=RateLimit(3, 60), proxy_hops=1).test_client()

    def login(forwarded, *, guess=False):
        password = "guess" if guess else "jakejake"
        return client.post(
            "/api/users/login",
            json={"user": {"email": "jake@jake.jake", "password": password}},
            headers={"X-Forwarded-For": forwarded},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},  # the proxy
        )

    register_jake(client, ip="127.0.0.2")
    assert login("127.1.1.1").status_code == 200
    for i in range(3):
        login(f"127.2.2.{i}", guess=True)

    assert login("127.1.1.1").status_code == 200
    assert login("127.3.3.3").status_code == 429


def test_no_window_length_interval_lets_more_than_the_limit_through(make_app):
    # given 5 attempts per 2 s, and a start in the middle of a clock-aligned 2 s window
    # (where a fixed window would open anew 1 s later)
    limit, window = 5, 2
    client = make_app(rate_limit_auth=RateLimit(limit, window)).test_client()
    time.sleep((1.0 - time.time() % window) % window)

    # when 20 attempts are spread over about 3 s, across that boundary
    allowed = []  # (sent, answered) of each attempt let through, on this host's clock
    for _ in range(20):
        sent = time.time()
        response = attempt_login(client)
        if response.status_code != 429:
            allowed.append((sent, time.time()))
        time.sleep(0.15)

    # then any `limit + 1` attempts let through span at least a window: the limiter
    # decided each between its sent and answered times, so this cannot fail falsely
    assert len(allowed) > limit  # the window slid: later attempts got through again
    for first, last in zip(allowed, allowed[limit:], strict=False):
        assert last[1] - first[0] >= window, allowed


def test_limited_answers_carry_the_ratelimit_headers(strict):
    answers = [attempt_login(strict) for _ in range(4)]

    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    for answer in answers:
        assert answer.headers["RateLimit-Limit"] == "3"
        assert answer.headers["RateLimit-Policy"] == "3;w=60"
        assert 1 <= int(answer.headers["RateLimit-Reset"]) <= 60
    assert answers[3].status_code == 429
    assert answers[3].headers["Retry-After"] == answers[3].headers["RateLimit-Reset"]
    assert "Retry-After" not in answers[2].headers


def test_writes_report_the_writers_limit_and_reads_report_none(strict):
    token = register_jake(strict).get_json()["user"]["token"]

    created = strict.post(
        "/api/articles",
        headers={"Authorization": f"Token {token}"},
        json={"article": {"title": "t", "description": "d", "body": "b"}},
    )
    read = strict.get("/api/articles")

    assert created.status_code == 201
    assert (created.headers["RateLimit-Limit"], created.headers["RateLimit-Remaining"]) == (
        "2",
        "1",
    )
    assert "RateLimit-Limit" not in read.headers


def test_without_redis_logins_are_not_limited_and_report_no_limit(make_app):
    client = make_app(
        redis_url="redis://127.0.0.1:1/0",
        store_connect_timeout=0.5,
        rate_limit_auth=RateLimit(1, 60),
    ).test_client()

    answers = [attempt_login(client) for _ in range(3)]

    assert [a.status_code for a in answers] == [401, 401, 401]
    assert not any("RateLimit-Limit" in a.headers for a in answers)
