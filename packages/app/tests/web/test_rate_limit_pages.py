"""Rate limits on the pages: the sign-in form reports them as the API does, and strangers
cannot lock an owner out of it."""

from __future__ import annotations

import re

import pytest

from imflask_controllers import users
from imflask_core.config import RateLimit

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


@pytest.fixture
def strict(make_app, ctx):
    users.register_user(
        ctx, username="alice", email="alice@example.com", password=PASSWORD, client_ip="test"
    )
    return make_app(rate_limit_auth=RateLimit(3, 60))


def sign_in(app, ip: str, password: str):
    """A fresh browser at ``ip`` submits the sign-in form."""
    client = app.test_client()
    form = client.get("/login", environ_base={"REMOTE_ADDR": ip}).get_data(as_text=True)
    match = CSRF.search(form)
    assert match
    return client.post(
        "/login",
        data={"email": "alice@example.com", "password": password, "csrf_token": match[1]},
        environ_base={"REMOTE_ADDR": ip},
    )


def test_the_sign_in_page_reports_its_limit_and_refuses_with_retry_after(strict):
    answers = [sign_in(strict, "127.0.0.5", "wrong") for _ in range(4)]

    assert [a.status_code for a in answers] == [422, 422, 422, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[3].headers["RateLimit-Limit"] == "3"
    assert answers[3].headers["Retry-After"] == answers[3].headers["RateLimit-Reset"]
    assert "too many" in answers[3].get_data(as_text=True)


def test_strangers_cannot_lock_the_owner_out_of_the_sign_in_page(strict):
    # given alice signed in from her usual address
    assert sign_in(strict, "127.0.0.1", PASSWORD).status_code == 302

    # when strangers guess from other addresses until the account's limit refuses them
    guesses = [sign_in(strict, f"127.1.{i}.1", "guess").status_code for i in range(5)]

    # then alice still signs in from her address
    assert guesses == [422, 422, 429, 429, 429]
    assert sign_in(strict, "127.0.0.1", PASSWORD).status_code == 302
