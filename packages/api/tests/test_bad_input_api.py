"""Every endpoint that reads a body survives bad input with a clear 4xx and no change."""

from __future__ import annotations

import pytest

BODY_ENDPOINTS = [
    ("post", "/api/users", "user", False),
    ("post", "/api/users/login", "user", False),
    ("put", "/api/user", "user", True),
    ("post", "/api/articles", "article", True),
    ("put", "/api/articles/{slug}", "article", True),
    ("post", "/api/articles/{slug}/comments", "comment", True),
]

BAD_BODIES = [
    (b"", {"body": ["must be a JSON object"]}),
    (b"<xml/>", {"body": ["must be a JSON object"]}),
    (b'{"unterminated": ', {"body": ["must be a JSON object"]}),
    (b"null", {"body": ["must be a JSON object"]}),
    (b'"a string"', {"body": ["must be a JSON object"]}),
    (b"\xff\xfe\x00", {"body": ["must be a JSON object"]}),
    (b"{" * 50_000, {"body": ["must be a JSON object"]}),
]


@pytest.fixture
def target(client, sign_up, publish):
    """A signed-in author with one article; returns (headers, slug, snapshot())."""
    jake = sign_up("jake")
    slug = publish(jake)["slug"]

    def snapshot():
        return (
            client.get(f"/api/articles/{slug}").get_json(),
            client.get(f"/api/articles/{slug}/comments").get_json(),
            client.get("/api/user", headers=jake.headers).get_json(),
        )

    return jake.headers, slug, snapshot


def _call(client, method, path, slug, headers, needs_auth, **kwargs):
    return getattr(client, method)(
        path.format(slug=slug), headers=headers if needs_auth else {}, **kwargs
    )


@pytest.mark.parametrize(("method", "path", "wrapper", "needs_auth"), BODY_ENDPOINTS)
@pytest.mark.parametrize(("raw", "errors"), BAD_BODIES)
def test_bodies_that_are_not_json_objects_are_422(
    client, target, method, path, wrapper, needs_auth, raw, errors
):
    headers, slug, snapshot = target
    before = snapshot()

    response = _call(
        client, method, path, slug, headers, needs_auth, data=raw, content_type="application/json"
    )

    assert response.status_code == 422
    assert response.get_json() == {"errors": errors}
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "wrapper", "needs_auth"), BODY_ENDPOINTS)
@pytest.mark.parametrize("inner", [None, "text", 7, [], ["a"], True])
def test_a_missing_or_mistyped_wrapper_is_422_naming_it(
    client, target, method, path, wrapper, needs_auth, inner
):
    headers, slug, snapshot = target
    before = snapshot()

    response = _call(client, method, path, slug, headers, needs_auth, json={wrapper: inner})

    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {wrapper}
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "wrapper", "needs_auth"), BODY_ENDPOINTS)
def test_a_huge_body_is_413(client, target, method, path, wrapper, needs_auth):
    headers, slug, snapshot = target
    before = snapshot()

    response = _call(
        client, method, path, slug, headers, needs_auth,
        json={wrapper: {"body": "x" * 2_000_000, "title": "t"}},
    )  # fmt: skip

    assert response.status_code == 413
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "wrapper", "needs_auth"), BODY_ENDPOINTS)
@pytest.mark.parametrize(
    "value", [{"$gt": ""}, {"$where": "1"}, ["$ne", 1], 12, 1.5, None, True, "x" * 300_000]
)
def test_operators_and_wrong_types_in_every_field_are_rejected(
    client, target, method, path, wrapper, needs_auth, value
):
    headers, slug, snapshot = target
    before = snapshot()
    fields = ["username", "email", "password", "title", "description", "body", "bio", "image"]

    response = _call(
        client, method, path, slug, headers, needs_auth,
        json={wrapper: dict.fromkeys(fields, value)},
    )  # fmt: skip

    assert response.status_code in {413, 422}
    assert snapshot() == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/profiles/%00",
        "/api/profiles/%27%20OR%20%271%27%3D%271",
        "/api/profiles/%7B%22%24gt%22%3A%22%22%7D",
        "/api/articles/%FF%FE",
        "/api/articles/a%2Fb/comments",
        "/api/articles?tag=%00&author=%FF",
        "/api/articles?favorited=" + "x" * 300,
    ],
)
def test_odd_path_and_query_values_never_break_the_server(client, path):
    response = client.get(path)

    assert response.status_code in {200, 404, 422}
    assert response.is_json
