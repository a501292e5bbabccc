"""Refresh tokens (rotation, reuse detection) and logout, beside the RealWorld token."""

from __future__ import annotations

import pytest


def refresh_cookie(response):
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("refresh_token=")]
    assert len(cookies) == 1, response.headers
    return cookies[0]


def cookie_value(header: str) -> str:
    return header.split(";", 1)[0].split("=", 1)[1]


def login(client, account, prefix="/api"):
    return client.post(
        f"{prefix}/users/login",
        json={"user": {"email": account.email, "password": account.password}},
    )


@pytest.mark.parametrize(("prefix", "path"), [("/api", "/api/auth"), ("/api/v1", "/api/v1/auth")])
def test_login_sets_an_httponly_lax_refresh_cookie_on_the_auth_path(client, sign_up, prefix, path):
    jake = sign_up()

    header = refresh_cookie(login(client, jake, prefix))

    assert f"Path={path}" in header
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Secure" not in header  # not in testing; see the production test below


def test_registration_sets_the_refresh_cookie_too(client):
    response = client.post(
        "/api/users",
        json={"user": {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}},
    )

    assert refresh_cookie(response)


def test_the_cookie_is_secure_in_production(make_app):
    client = make_app(env="production").test_client()

    response = client.post(
        "/api/users",
        json={"user": {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}},
    )

    assert "Secure" in refresh_cookie(response)


def test_refresh_returns_a_new_access_token_and_rotates_the_cookie(client, sign_up):
    jake = sign_up()
    first = cookie_value(refresh_cookie(login(client, jake)))

    response = client.post("/api/auth/refresh")

    assert response.status_code == 200
    token = response.get_json()["user"]["token"]
    assert client.get("/api/user", headers={"Authorization": f"Token {token}"}).status_code == 200
    assert cookie_value(refresh_cookie(response)) != first


def test_a_refresh_token_works_once_and_reuse_revokes_the_family(client, sign_up):
    jake = sign_up()
    stolen = cookie_value(refresh_cookie(login(client, jake)))
    rotated = cookie_value(refresh_cookie(client.post("/api/auth/refresh")))

    client.set_cookie("refresh_token", stolen, path="/api/auth")
    reuse = client.post("/api/auth/refresh")
    client.set_cookie("refresh_token", rotated, path="/api/auth")
    after = client.post("/api/auth/refresh")

    assert reuse.status_code == 401
    assert reuse.get_json() == {"errors": {"refresh token": ["was already used; sign in again"]}}
    assert after.status_code == 401
    assert after.get_json() == {"errors": {"refresh token": ["was revoked; sign in again"]}}


def test_other_sessions_survive_a_revoked_family(client, sign_up):
    jake = sign_up()
    laptop = cookie_value(refresh_cookie(login(client, jake)))
    phone = cookie_value(refresh_cookie(login(client, jake)))
    client.set_cookie("refresh_token", laptop, path="/api/auth")
    client.post("/api/auth/refresh")
    client.set_cookie("refresh_token", laptop, path="/api/auth")
    client.post("/api/auth/refresh")  # reuse: the laptop's family is revoked

    client.set_cookie("refresh_token", phone, path="/api/auth")

    assert client.post("/api/auth/refresh").status_code == 200


@pytest.mark.parametrize("cookie", [None, "not-a-token"])
def test_refresh_without_a_valid_cookie_is_401(client, cookie):
    if cookie:
        client.set_cookie("refresh_token", cookie, path="/api/auth")

    response = client.post("/api/auth/refresh")

    assert response.status_code == 401


def test_logout_revokes_the_access_token_and_the_refresh_token(client, sign_up):
    jake = sign_up()
    response = login(client, jake)
    token = response.get_json()["user"]["token"]
    headers = {"Authorization": f"Token {token}"}

    out = client.post("/api/auth/logout", headers=headers)

    assert out.status_code == 204
    assert "refresh_token=;" in refresh_cookie(out)
    me = client.get("/api/user", headers=headers)
    assert me.status_code == 401
    assert me.get_json() == {"errors": {"token": ["has been revoked"]}}
    client.set_cookie("refresh_token", cookie_value(refresh_cookie(response)), path="/api/auth")
    assert client.post("/api/auth/refresh").status_code == 401


def test_logout_leaves_other_tokens_working(client, sign_up):
    jake = sign_up()
    other = login(client, jake).get_json()["user"]["token"]

    client.post("/api/auth/logout", headers=jake.headers)

    assert client.get("/api/user", headers={"Authorization": f"Token {other}"}).status_code == 200


@pytest.mark.parametrize(
    "change", [{"password": "a brand new password"}, {"email": "jake@elsewhere.test"}]
)
def test_a_credential_change_revokes_every_earlier_token_on_every_instance(
    app, client, make_app, sign_up, change
):
    jake = sign_up()
    laptop = login(client, jake)
    laptop_token = laptop.get_json()["user"]["token"]
    laptop_cookie = cookie_value(refresh_cookie(laptop))
    other_instance = make_app(secret_key=app.config["SECRET_KEY"]).test_client()

    changed = other_instance.put("/api/user", json={"user": change}, headers=jake.headers)

    assert changed.status_code == 200
    fresh = changed.get_json()["user"]["token"]
    assert fresh not in (jake.token, laptop_token)
    for old in (jake.token, laptop_token):
        me = client.get("/api/user", headers={"Authorization": f"Token {old}"})
        assert me.status_code == 401
        assert me.get_json() == {"errors": {"token": ["has been revoked"]}}
    client.set_cookie("refresh_token", laptop_cookie, path="/api/auth")
    refused = client.post("/api/auth/refresh")
    assert refused.status_code == 401
    assert refused.get_json() == {"errors": {"refresh token": ["was revoked; sign in again"]}}
    assert client.get("/api/user", headers={"Authorization": f"Token {fresh}"}).status_code == 200


def test_the_caller_of_a_password_change_gets_a_working_refresh_cookie(client, sign_up):
    jake = sign_up()
    login(client, jake)

    changed = client.put(
        "/api/user", json={"user": {"password": "a brand new password"}}, headers=jake.headers
    )

    client.set_cookie("refresh_token", cookie_value(refresh_cookie(changed)), path="/api/auth")
    assert client.post("/api/auth/refresh").status_code == 200


def test_a_profile_change_leaves_earlier_tokens_working(client, sign_up):
    jake = sign_up()
    cookie = cookie_value(refresh_cookie(login(client, jake)))

    changed = client.put(
        "/api/user", json={"user": {"bio": "I like to skateboard"}}, headers=jake.headers
    )

    assert changed.get_json()["user"]["token"] == jake.token
    assert client.get("/api/user", headers=jake.headers).status_code == 200
    client.set_cookie("refresh_token", cookie, path="/api/auth")
    assert client.post("/api/auth/refresh").status_code == 200


def test_a_taken_email_revokes_nothing(client, sign_up):
    jake = sign_up()
    sign_up("jane")

    refused = client.put(
        "/api/user", json={"user": {"email": "jane@conduit.test"}}, headers=jake.headers
    )

    assert refused.status_code == 422
    assert client.get("/api/user", headers=jake.headers).status_code == 200


def test_a_password_change_without_redis_is_503_and_changes_nothing(app, client, make_app, sign_up):
    jake = sign_up()
    no_redis = make_app(
        secret_key=app.config["SECRET_KEY"],
        redis_url="redis://127.0.0.1:1/0",
        store_connect_timeout=0.5,
    ).test_client()

    refused = no_redis.put(
        "/api/user", json={"user": {"password": "a brand new password"}}, headers=jake.headers
    )

    assert refused.status_code == 503
    assert login(client, jake).status_code == 200
    assert client.get("/api/user", headers=jake.headers).status_code == 200
