"""Every HTML response carries the pages' strict Content-Security-Policy: pages, redirects
and error pages of every status, whichever blueprint (or none) answered."""

from __future__ import annotations

import re

import pytest
from flask import Response

from imflask_app.web.errors import TITLES, error_page
from imflask_app.web.templating import CONTENT_SECURITY_POLICY
from imflask_controllers import articles, users
from imflask_core.config import RateLimit

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LIMIT = 1024 * 1024  # the testing default of FLASK_MAX_CONTENT_LENGTH


def _sign_in(client, ctx, username: str) -> str:
    """Register ``username`` and sign in through the form; the session's CSRF token."""
    users.register_user(
        ctx, username=username, email=f"{username}@example.com", password=PASSWORD, client_ip="t"
    )
    token = _csrf(client)
    form = {"email": f"{username}@example.com", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form).status_code == 302
    return _csrf(client)


def _csrf(client) -> str:
    match = CSRF.search(client.get("/login").get_data(as_text=True))
    assert match
    return match.group(1)


def _first_429(client) -> Response:
    """Wrong passwords until the sign-in limit answers (its numbers are not this test's)."""
    token = _csrf(client)
    for _ in range(50):
        form = {"email": "nobody@example.com", "password": "wrong password", "csrf_token": token}
        response = client.post("/login", data=form)
        if response.status_code == 429:
            return response
    raise AssertionError("fifty wrong passwords were never rate limited")


def test_every_html_answer_of_the_site_carries_the_page_policy(app, ctx, make_app):
    # given an article by alice, and bob signed in
    alice = users.register_user(
        ctx, username="alice", email="alice@example.com", password=PASSWORD, client_ip="t"
    )
    dragons = articles.create_article(
        ctx, author=alice, title="Dragons", description="d", body="b", tags=[]
    )
    visitor, bob = app.test_client(), app.test_client()
    token = _sign_in(bob, ctx, "bob")

    # when the site answers every way it can
    answers = {
        "home": visitor.get("/"),
        "redirect to sign in": visitor.get("/?feed=yours"),
        "form without its token": visitor.post("/login", data={"email": "a@b.c"}),
        "someone else's article": bob.get(f"/editor/{dragons.slug}"),
        "unknown article": visitor.get("/article/nope"),
        "unknown address": visitor.get("/nowhere"),
        "wrong method": visitor.put("/login"),
        "form too large": bob.post("/settings", data={"csrf_token": token, "bio": "x" * LIMIT}),
        "following yourself": bob.post("/profile/bob/follow", data={"csrf_token": token}),
        "too many sign-ins": _first_429(make_app(rate_limit_auth=RateLimit(2, 60)).test_client()),
    }

    # then each is an HTML page with the pages' policy, whatever its status
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert sorted(set(statuses.values())) == [200, 302, 400, 403, 404, 405, 413, 422, 429]
    for name, answer in answers.items():
        assert answer.mimetype == "text/html", name
        assert answer.headers.getlist("Content-Security-Policy") == [CONTENT_SECURITY_POLICY], (
            name,
            answer.status_code,
        )
        assert answer.headers["X-Content-Type-Options"] == "nosniff", name


@pytest.mark.parametrize("status", sorted(TITLES))
def test_an_html_answer_from_outside_the_pages_carries_the_page_policy(make_app, status):
    # given a route of no blueprint answering an error page (as an app-level handler does)
    app = make_app()
    app.add_url_rule(
        f"/test/html/{status}", f"html_{status}", lambda: error_page(status, "A message.")
    )

    # when it answers
    answer = app.test_client().get(f"/test/html/{status}")

    # then the pages' policy is on it; JSON answers keep the API's own
    assert answer.status_code == status
    assert answer.headers.getlist("Content-Security-Policy") == [CONTENT_SECURITY_POLICY]
    api = app.test_client().get("/api/tags")
    assert api.headers["Content-Security-Policy"] != CONTENT_SECURITY_POLICY
