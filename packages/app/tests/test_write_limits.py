"""Every write, through the API or a page's form, counts against the writer's limit.

The limit is the use cases' (``limits.write_limited``), not the views': these tests
walk the app's URL map, so every write route is tried, and one whose use case forgot the
limit answers something other than 429. An API write without a request body (in the
OpenAPI document) is tried on its own, with the world's values in its path; a write
with a body, or a page's form, needs its case here, or the first test fails.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

import pytest

from imflask_api.docs import openapi_document
from imflask_controllers import articles, comments, limits, users
from imflask_controllers.errors import RateLimited
from imflask_core.config import RateLimit

WRITE_METHODS = {"POST", "PUT", "DELETE"}
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
API_PREFIXES = ("/api/v1", "/api")
FLASK_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")
# The world's value for each path variable of a write without a body.
PATH_VALUES = {"slug": "slug", "comment_id": "comment_id", "username": "other"}

# Writes that are not a signed-in user's: logins and registrations have their own limit
# (per client address and account, see test_rate_limits_api.py and test_auth_is_limited_...
# below); refreshing and signing out must keep working for someone over their write limit.
NOT_WRITES_OF_A_USER = {
    ("POST", "/users"),
    ("POST", "/users/login"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("POST", "/login"),
    ("POST", "/register"),
    ("POST", "/logout"),
}


@dataclass
class World:
    """The actor (a fresh user), an article and a comment of theirs, someone to follow."""

    user_id: int
    username: str
    email: str
    token: str
    slug: str
    comment_id: int
    other: str


# (method, rule without the API prefix) -> (path, JSON body or form)
def api_writes_with_a_body(w: World) -> dict[tuple[str, str], tuple[str, dict | None]]:
    article = {"article": {"title": "New", "description": "d", "body": "b"}}
    return {
        ("PUT", "/user"): ("/user", {"user": {"bio": "changed"}}),
        ("POST", "/articles"): ("/articles", article),
        ("PUT", "/articles/<slug>"): (f"/articles/{w.slug}", {"article": {"body": "b2"}}),
        ("POST", "/articles/<slug>/comments"): (
            f"/articles/{w.slug}/comments",
            {"comment": {"body": "hi"}},
        ),
        ("POST", "/notifications/read"): ("/notifications/read", {}),
    }


def page_writes(w: World) -> dict[tuple[str, str], tuple[str, dict]]:
    return {
        ("POST", "/settings"): (
            "/settings",
            {"username": w.username, "email": w.email, "bio": "changed"},
        ),
        ("POST", "/editor"): ("/editor", {"title": "New", "description": "d", "body": "b"}),
        ("POST", "/editor/<slug>"): (
            f"/editor/{w.slug}",
            {"title": "Dragons", "description": "d", "body": "b2"},
        ),
        ("POST", "/article/<slug>/delete"): (f"/article/{w.slug}/delete", {}),
        ("POST", "/article/<slug>/favorite"): (f"/article/{w.slug}/favorite", {}),
        ("POST", "/article/<slug>/unfavorite"): (f"/article/{w.slug}/unfavorite", {}),
        ("POST", "/article/<slug>/comments"): (f"/article/{w.slug}/comments", {"body": "hi"}),
        ("POST", "/article/<slug>/comments/<int:comment_id>/delete"): (
            f"/article/{w.slug}/comments/{w.comment_id}/delete",
            {},
        ),
        ("POST", "/profile/<username>/follow"): (f"/profile/{w.other}/follow", {}),
        ("POST", "/profile/<username>/unfollow"): (f"/profile/{w.other}/unfollow", {}),
    }


def api_writes(app, w: World) -> dict[tuple[str, str], tuple[str, dict | None]]:
    """Every API write of a user: those the document gives no request body, with the
    world's values in their path, and the cases above."""
    paths = openapi_document(app)["paths"]
    found = {}
    for method, rule in served_writes(app) - NOT_WRITES_OF_A_USER:
        operation = paths.get(FLASK_VARIABLE.sub(r"{\1}", rule), {}).get(method.lower())
        if operation is not None and "requestBody" not in operation:
            path = FLASK_VARIABLE.sub(lambda m: str(getattr(w, PATH_VALUES[m[1]])), rule)
            found[(method, rule)] = (path, None)
    return {**found, **api_writes_with_a_body(w)}


def served_writes(app) -> set[tuple[str, str]]:
    """Every (method, rule) that may change data, the API's without its prefix."""
    found = set()
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for prefix in API_PREFIXES:
            if path.startswith(prefix + "/"):
                path = path.removeprefix(prefix)
                break
        found |= {(method, path) for method in rule.methods & WRITE_METHODS}
    return found


@pytest.fixture
def strict(make_app, ctx):
    """An app where each user may write once an hour (same stores and keys as ``ctx``)."""
    return make_app(rate_limit_writes=RateLimit(1, 3600), secret_key=ctx.settings.secret_key)


def make_world(ctx, name: str) -> World:
    actor = users.register_user(
        ctx, username=name, email=f"{name}@example.com", password=PASSWORD, client_ip="test"
    )
    row = users.user_by_id(ctx, actor.id)
    article = articles.create_article(
        ctx, author=row, title="Dragons", description="d", body="b", tags=[]
    )
    comment = comments.add_comment(ctx, slug=article.slug, author=row, body="mine")
    other = f"{name}-other"
    users.register_user(
        ctx, username=other, email=f"{other}@example.com", password=PASSWORD, client_ip="test"
    )
    return World(
        actor.id, actor.username, actor.email, actor.token, article.slug, comment.id, other
    )


def spend_write_limit(app, user_id: int) -> None:
    with contextlib.suppress(RateLimited):  # setting up the world may have spent it already
        limits.limit_write(app.extensions["imflask.context"], user_id=user_id)


def signed_in_page_client(app, email: str):
    client = app.test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def csrf_token(client) -> str:
    return CSRF.search(client.get("/editor").get_data(as_text=True)).group(1)


ANYONE = World(1, "u", "u@example.com", "t", "s", 1, "o")  # for the tables' keys


def test_every_write_route_has_a_case_here(app):
    covered = set(api_writes(app, ANYONE)) | set(page_writes(ANYONE)) | NOT_WRITES_OF_A_USER

    assert served_writes(app) == covered


@pytest.mark.parametrize("prefix", API_PREFIXES)
def test_every_api_write_over_the_limit_is_429_with_retry_after(ctx, app, strict, prefix):
    for n, route in enumerate(api_writes(app, ANYONE)):
        world = make_world(ctx, f"api{n}")
        path, body = api_writes(app, world)[route]
        headers = {"Authorization": f"Token {world.token}"}
        spend_write_limit(strict, world.user_id)

        limited = strict.test_client().open(
            prefix + path, method=route[0], json=body, headers=headers
        )
        allowed = app.test_client().open(prefix + path, method=route[0], json=body, headers=headers)

        assert limited.status_code == 429, (route, limited.get_json())
        assert 1 <= int(limited.headers["Retry-After"]) <= 3600, route
        assert limited.get_json()["errors"]["requests"][0].startswith("are too many"), route
        assert allowed.status_code < 300, (route, allowed.get_json())  # the case is a real write


def test_every_page_write_over_the_limit_is_429_with_retry_after(ctx, app, strict):
    for n, route in enumerate(page_writes(ANYONE)):
        world = make_world(ctx, f"page{n}")
        path, form = page_writes(world)[route]
        spend_write_limit(strict, world.user_id)
        limited_client = signed_in_page_client(strict, world.email)
        allowed_client = signed_in_page_client(app, world.email)

        limited = limited_client.post(path, data={**form, "csrf_token": csrf_token(limited_client)})
        allowed = allowed_client.post(path, data={**form, "csrf_token": csrf_token(allowed_client)})

        assert limited.status_code == 429, (route, limited.get_data(as_text=True)[:500])
        assert 1 <= int(limited.headers["Retry-After"]) <= 3600, route
        assert "are too many" in limited.get_data(as_text=True), route
        assert allowed.status_code in {200, 302}, (route, allowed.status_code)


def test_a_write_over_the_limit_changes_nothing(ctx, strict):
    world = make_world(ctx, "jake")
    spend_write_limit(strict, world.user_id)

    response = strict.test_client().delete(
        f"/api/articles/{world.slug}", headers={"Authorization": f"Token {world.token}"}
    )

    assert response.status_code == 429
    assert articles.get_article(ctx, slug=world.slug, viewer=None).slug == world.slug
