"""The RealWorld user endpoints through HTTP: registration, login, current user."""

from __future__ import annotations

import time

import jwt
import pytest

ONLY_WORD_CHARACTERS = "may only contain letters, digits, '.', '-' and '_'"
JAKE = {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}


def register(client, prefix="/api", **fields):
    return client.post(f"{prefix}/users", json={"user": {**JAKE, **fields}})


def token_of(response) -> str:
    return response.get_json()["user"]["token"]


def auth(token: str, scheme: str = "Token") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


@pytest.mark.parametrize("prefix", ["/api", "/api/v1"])
def test_registering_returns_201_with_the_user_and_a_token(client, prefix):
    response = register(client, prefix)

    assert response.status_code == 201
    assert response.content_type.startswith("application/json")
    user = response.get_json()["user"]
    assert user["username"] == "jake"
    assert user["email"] == "jake@jake.jake"
    assert user["bio"] is None
    assert user["image"] is None
    assert "password" not in user
    assert user["token"].count(".") == 2


def test_logging_in_returns_the_user_with_a_token_that_authenticates(client):
    register(client)

    response = client.post(
        "/api/users/login", json={"user": {"email": "JAKE@jake.jake", "password": "jakejake"}}
    )

    assert response.status_code == 200
    me = client.get("/api/user", headers=auth(token_of(response)))
    assert me.status_code == 200
    assert me.get_json()["user"]["username"] == "jake"


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "bearer"])
def test_both_token_and_bearer_schemes_are_accepted(client, scheme):
    token = token_of(register(client))

    response = client.get("/api/user", headers=auth(token, scheme))

    assert response.status_code == 200
    assert response.get_json()["user"]["token"] == token


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "jake@jake.jake", "password": "wrong-password"},
        {"email": "nobody@jake.jake", "password": "jakejake"},
    ],
)
def test_wrong_credentials_get_401_with_an_error_body(client, credentials):
    register(client)

    response = client.post("/api/users/login", json={"user": credentials})

    assert response.status_code == 401
    assert response.get_json() == {"errors": {"email or password": ["is invalid"]}}


def test_updating_the_user_changes_only_the_fields_sent(client):
    token = token_of(register(client))

    response = client.put(
        "/api/user",
        headers=auth(token),
        json={"user": {"bio": "I like to skateboard", "image": "https://example.org/a.png"}},
    )

    assert response.status_code == 200
    user = response.get_json()["user"]
    assert user["bio"] == "I like to skateboard"
    assert user["image"] == "https://example.org/a.png"
    assert user["username"] == "jake"
    assert client.get("/api/user", headers=auth(token)).get_json()["user"]["bio"] == (
        "I like to skateboard"
    )


def test_bio_and_image_can_be_cleared_with_null(client):
    token = token_of(register(client))
    client.put("/api/user", headers=auth(token), json={"user": {"bio": "x", "image": None}})

    response = client.put("/api/user", headers=auth(token), json={"user": {"bio": None}})

    assert response.status_code == 200
    assert response.get_json()["user"]["bio"] is None


def test_a_new_password_replaces_the_old_one(client):
    token = token_of(register(client))

    client.put("/api/user", headers=auth(token), json={"user": {"password": "a new secret"}})

    old = client.post(
        "/api/users/login", json={"user": {"email": JAKE["email"], "password": "jakejake"}}
    )
    new = client.post(
        "/api/users/login", json={"user": {"email": JAKE["email"], "password": "a new secret"}}
    )
    assert old.status_code == 401
    assert new.status_code == 200


def test_changing_username_to_a_taken_one_is_422_and_changes_nothing(client):
    register(client, username="other", email="other@jake.jake")
    token = token_of(register(client))

    response = client.put(
        "/api/user", headers=auth(token), json={"user": {"username": "other", "bio": "changed"}}
    )

    assert response.status_code == 422
    assert response.get_json() == {"errors": {"username": ["has already been taken"]}}
    assert client.get("/api/user", headers=auth(token)).get_json()["user"]["bio"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"username": "jake"}, "username"), ({"email": "jake@jake.jake"}, "email")],
)
def test_registering_a_taken_username_or_email_is_422(client, fields, field):
    register(client)
    other = {"username": "jacob", "email": "jacob@jake.jake", **fields}

    response = register(client, **other)

    assert response.status_code == 422
    assert response.get_json() == {"errors": {field: ["has already been taken"]}}


def test_email_is_taken_whatever_its_case(client):
    register(client)

    response = register(client, username="jacob", email="Jake@JAKE.jake")

    assert response.status_code == 422
    assert response.get_json()["errors"] == {"email": ["has already been taken"]}


@pytest.mark.parametrize(
    ("user", "errors"),
    [
        ({"email": "a@b.co", "password": "12345678"}, {"username": ["can't be blank"]}),
        ({**JAKE, "username": ""}, {"username": ["can't be blank"]}),
        ({**JAKE, "username": "   "}, {"username": ["can't be blank"]}),
        ({**JAKE, "username": "x" * 65}, {"username": ["is too long (maximum is 64 characters)"]}),
        (
            {**JAKE, "username": "a/b"},
            {"username": [ONLY_WORD_CHARACTERS]},
        ),
        ({**JAKE, "username": 42}, {"username": ["must be a string"]}),
        ({**JAKE, "username": ["jake"]}, {"username": ["must be a string"]}),
        ({**JAKE, "email": "not-an-email"}, {"email": ["is invalid"]}),
        ({**JAKE, "email": None}, {"email": ["must be a string"]}),
        ({**JAKE, "password": "short"}, {"password": ["is too short (minimum is 8 characters)"]}),
        (
            {**JAKE, "password": "p" * 257},
            {"password": ["is too long (maximum is 256 characters)"]},
        ),
        ({**JAKE, "username": "ja\ud800ke"}, {"username": ["is invalid"]}),
        (
            {**JAKE, "username": "ja\x00ke"},
            {"username": [ONLY_WORD_CHARACTERS]},
        ),
    ],
)
def test_invalid_registrations_are_422_naming_the_field(client, user, errors):
    response = client.post("/api/users", json={"user": user})

    assert response.status_code == 422
    assert response.get_json() == {"errors": errors}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (b"", {"body": ["must be a JSON object"]}),
        (b"not json", {"body": ["must be a JSON object"]}),
        (b'{"user": ', {"body": ["must be a JSON object"]}),
        (b"[1, 2]", {"body": ["must be a JSON object"]}),
        (b"[" * 100_000 + b"]" * 100_000, {"body": ["must be a JSON object"]}),
        (b'{"username": "jake"}', {"user": ["is missing"]}),
        (b'{"user": "jake"}', {"user": ["must be an object"]}),
        (b'{"user": [1]}', {"user": ["must be an object"]}),
    ],
)
def test_bodies_that_are_not_a_wrapped_json_object_are_422(client, body, errors):
    response = client.post("/api/users", data=body, content_type="application/json")

    assert response.status_code == 422
    assert response.get_json() == {"errors": errors}


def test_unknown_fields_are_ignored(client):
    response = register(client, admin=True, id=1)

    assert response.status_code == 201
    assert "admin" not in response.get_json()["user"]


def test_a_body_over_the_limit_is_413(client, app):
    limit = app.config["MAX_CONTENT_LENGTH"]

    response = register(client, bio="x" * (limit + 1))

    assert response.status_code == 413
    assert response.get_json() == {"errors": {"body": [f"is too large (maximum is {limit} bytes)"]}}


def test_strings_carrying_query_syntax_are_stored_verbatim(client):
    sneaky = "x' OR 1=1 --"
    token = token_of(register(client))

    client.put("/api/user", headers=auth(token), json={"user": {"bio": sneaky}})
    operator = client.post(
        "/api/users/login", json={"user": {"email": {"$gt": ""}, "password": "x"}}
    )

    assert client.get("/api/user", headers=auth(token)).get_json()["user"]["bio"] == sneaky
    assert operator.status_code == 422
    assert operator.get_json() == {"errors": {"email": ["must be a string"]}}


def test_updating_with_no_known_field_is_422(client):
    token = token_of(register(client))

    response = client.put("/api/user", headers=auth(token), json={"user": {"role": "admin"}})

    assert response.status_code == 422
    assert response.get_json() == {"errors": {"user": ["must have at least one field to update"]}}


@pytest.mark.parametrize("field", ["username", "email", "password"])
def test_required_user_fields_cannot_be_set_to_null(client, field):
    token = token_of(register(client))

    response = client.put("/api/user", headers=auth(token), json={"user": {field: None}})

    assert response.status_code == 422
    assert response.get_json() == {"errors": {field: ["must be a string"]}}


def test_image_must_be_an_http_url(client):
    token = token_of(register(client))

    response = client.put(
        "/api/user", headers=auth(token), json={"user": {"image": "javascript:alert(1)"}}
    )

    assert response.status_code == 422
    assert response.get_json() == {"errors": {"image": ["must be an http(s) URL"]}}


@pytest.mark.parametrize("method", ["get", "put"])
def test_the_current_user_needs_a_token(client, method):
    response = getattr(client, method)("/api/user", json={"user": {"bio": "x"}})

    assert response.status_code == 401
    assert response.get_json() == {"errors": {"token": ["is missing"]}}
    assert response.headers["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    ("header", "errors"),
    [
        ("Token not-a-jwt", {"token": ["is invalid"]}),
        ("Basic amFrZTpqYWtl", {"authorization": ["must be 'Token <jwt>' or 'Bearer <jwt>'"]}),
        ("Token", {"authorization": ["must be 'Token <jwt>' or 'Bearer <jwt>'"]}),
    ],
)
def test_malformed_authorization_is_401(client, header, errors):
    response = client.get("/api/user", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.get_json() == {"errors": errors}


def _claims(user_id: int, **changes) -> dict:
    now = int(time.time())
    return {
        "sub": str(user_id),
        "typ": "access",
        "jti": "x",
        "iat": now,
        "exp": now + 60,
        **changes,
    }


def _user_id(client, token: str) -> int:
    return int(jwt.decode(token, options={"verify_signature": False})["sub"])


def test_an_expired_token_is_401(client, app):
    user_id = _user_id(client, token_of(register(client)))
    expired = jwt.encode(
        _claims(user_id, exp=int(time.time()) - 1), app.config["SECRET_KEY"], algorithm="HS256"
    )

    response = client.get("/api/user", headers=auth(expired))

    assert response.status_code == 401
    assert response.get_json() == {"errors": {"token": ["has expired"]}}


@pytest.mark.parametrize(
    ("key", "algorithm", "changes"),
    [
        ("another-secret-another-secret-another", "HS256", {}),
        (None, "HS512", {}),
        (None, "HS256", {"typ": "refresh"}),
        (None, "HS256", {"sub": "not-a-number"}),
    ],
)
def test_forged_or_foreign_tokens_are_401(client, app, key, algorithm, changes):
    user_id = _user_id(client, token_of(register(client)))
    forged = jwt.encode(
        _claims(user_id, **changes), key or app.config["SECRET_KEY"], algorithm=algorithm
    )

    response = client.get("/api/user", headers=auth(forged))

    assert response.status_code == 401
    assert response.get_json() == {"errors": {"token": ["is invalid"]}}


def test_an_unsigned_token_is_401(client):
    user_id = _user_id(client, token_of(register(client)))
    unsigned = jwt.encode(_claims(user_id), None, algorithm="none")

    response = client.get("/api/user", headers=auth(unsigned))

    assert response.status_code == 401


def test_a_token_of_a_user_that_no_longer_exists_is_401(client, ctx):
    token = token_of(register(client))
    with ctx.stores.sql.connection() as conn:
        conn.execute("DELETE FROM users")

    response = client.get("/api/user", headers=auth(token))

    assert response.status_code == 401
    assert response.get_json() == {"errors": {"token": ["belongs to no user"]}}


def test_an_unreachable_mysql_gives_503_with_a_json_body(make_app):
    app = make_app(mysql_uri="mysql://root@127.0.0.1:1/nowhere")

    response = app.test_client().post("/api/users", json={"user": JAKE})

    assert response.status_code == 503
    assert response.get_json() == {"errors": {"mysql": ["is unavailable, try again shortly"]}}
    assert response.headers["Retry-After"] == "5"
