"""Look-alike names: a username is taken with every name that looks like it (NFKC, case
folding and the confusables of UTS #39), an email with every spelling that differs in
case or width; a profile keeps the name as it was registered."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

TAKEN = "has already been taken"
FULLWIDTH_JAKE = "\uff4a\uff41\uff4b\uff45"
BOLD_JAKE = "\U0001d423\U0001d41a\U0001d424\U0001d41e"  # mathematical bold


def register(client, username: str, email: str | None = None):
    return client.post(
        "/api/users",
        json={
            "user": {
                "username": username,
                "email": email or f"{uuid.uuid4().hex[:12]}@conduit.test",
                "password": "a-long-password",
            }
        },
    )


@pytest.mark.parametrize(
    "look_alike",
    [
        "Jake",
        "JAKE",
        FULLWIDTH_JAKE,
        BOLD_JAKE,
        "\u0458ake",  # Cyrillic je
        "j\u0430ke",  # Cyrillic a
        "ja\u212ae",  # Kelvin sign
    ],
)
def test_a_username_that_looks_like_a_taken_one_is_taken(client, look_alike):
    assert register(client, "jake", "jake@conduit.test").status_code == 201

    response = register(client, look_alike, "other@conduit.test")

    assert response.status_code == 422
    assert response.get_json() == {"errors": {"username": [TAKEN]}}


@pytest.mark.parametrize(("first", "second"), [("bob0", "bobO"), ("tim", "tirn")])
def test_digits_and_letter_pairs_that_look_alike_are_one_name(client, first, second):
    assert register(client, first).status_code == 201

    response = register(client, second)

    assert response.status_code == 422
    assert response.get_json() == {"errors": {"username": [TAKEN]}}


def test_a_name_with_an_accent_is_not_a_look_alike_of_the_plain_one(client):
    assert register(client, "jose").status_code == 201

    assert register(client, "josé").status_code == 201


def test_the_profile_keeps_the_name_as_registered(client):
    response = register(client, "JakeTheDog")
    assert response.status_code == 201
    assert response.get_json()["user"]["username"] == "JakeTheDog"

    profile = client.get("/api/profiles/JakeTheDog")

    assert profile.status_code == 200
    assert profile.get_json()["profile"]["username"] == "JakeTheDog"


@pytest.mark.parametrize("spelling", ["JAKE@conduit.test", FULLWIDTH_JAKE + "@conduit.test"])
def test_an_email_that_differs_in_case_or_width_is_taken(client, spelling):
    assert register(client, "jake", "jake@conduit.test").status_code == 201

    response = register(client, "jacob", spelling)

    assert response.status_code == 422
    assert response.get_json() == {"errors": {"email": [TAKEN]}}


def test_concurrent_registrations_of_look_alikes_let_exactly_one_in(app):
    names = ["jake", "Jake", "JAKE", FULLWIDTH_JAKE, "j\u0430ke", "jaKe"]
    start = threading.Barrier(len(names))

    def sign_up(name: str):
        client = app.test_client()
        start.wait()
        return register(client, name)

    with ThreadPoolExecutor(len(names)) as pool:
        answers = list(pool.map(sign_up, names))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [422] * (len(names) - 1)
    refused = [answer.get_json() for answer in answers if answer.status_code == 422]
    assert refused == [{"errors": {"username": [TAKEN]}}] * (len(names) - 1)


def update(client, token: str, **fields):
    return client.put(
        "/api/user", headers={"Authorization": f"Token {token}"}, json={"user": fields}
    )


def token_of(response) -> str:
    assert response.status_code == 201, response.get_json()
    return response.get_json()["user"]["token"]


def test_renaming_to_a_look_alike_of_a_taken_name_is_taken_and_changes_nothing(client):
    register(client, "jake")
    bob = token_of(register(client, "bob"))

    response = update(client, bob, username="JAKE", bio="new bio")

    assert response.status_code == 422
    assert response.get_json() == {"errors": {"username": [TAKEN]}}
    me = client.get("/api/user", headers={"Authorization": f"Token {bob}"}).get_json()["user"]
    assert (me["username"], me["bio"]) == ("bob", None)


def test_changing_the_case_of_ones_own_name_keeps_it_claimed(client):
    jake = token_of(register(client, "jake"))

    renamed = update(client, jake, username="Jake")

    assert renamed.status_code == 200
    assert renamed.get_json()["user"]["username"] == "Jake"
    assert client.get("/api/profiles/Jake").get_json()["profile"]["username"] == "Jake"
    assert register(client, "jake", "again@conduit.test").get_json() == {
        "errors": {"username": [TAKEN]}
    }


def test_a_name_given_up_can_be_taken_by_a_look_alike(client):
    jake = token_of(register(client, "jake"))
    assert update(client, jake, username="jacob").status_code == 200

    assert register(client, "JAKE", "new@conduit.test").status_code == 201
    assert register(client, "Jacob", "third@conduit.test").get_json() == {
        "errors": {"username": [TAKEN]}
    }


def test_changing_email_to_a_look_alike_of_a_taken_one_is_taken(client):
    register(client, "jake", "jake@conduit.test")
    bob = token_of(register(client, "bob"))

    response = update(client, bob, email="Jake@Conduit.test")

    assert response.status_code == 422
    assert response.get_json() == {"errors": {"email": [TAKEN]}}


def test_sending_ones_own_name_and_email_unchanged_is_accepted(client):
    jake = token_of(register(client, "jake", "jake@conduit.test"))

    response = update(client, jake, username="jake", email="jake@conduit.test", bio="hi")

    assert response.status_code == 200
    assert response.get_json()["user"]["bio"] == "hi"
