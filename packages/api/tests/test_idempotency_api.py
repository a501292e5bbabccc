"""Idempotency-Key on POST: a retry with the same key gets the first answer, not a new write."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

ARTICLE = {"article": {"title": "Once", "description": "d", "body": "b", "tagList": ["x"]}}


def test_a_retried_create_with_the_same_key_returns_the_first_answer(client, sign_up):
    jake = sign_up()
    headers = {**jake.headers, "Idempotency-Key": "create-once-1"}

    first = client.post("/api/articles", headers=headers, json=ARTICLE)
    again = client.post("/api/articles", headers=headers, json=ARTICLE)

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert client.get("/api/articles").get_json()["articlesCount"] == 1


def test_without_a_key_a_second_create_writes_again(client, sign_up):
    jake = sign_up()

    client.post("/api/articles", headers=jake.headers, json=ARTICLE)
    client.post("/api/articles", headers=jake.headers, json=ARTICLE)

    assert client.get("/api/articles").get_json()["articlesCount"] == 2


def test_the_same_key_with_another_body_is_refused(client, sign_up):
    jake = sign_up()
    headers = {**jake.headers, "Idempotency-Key": "k"}
    client.post("/api/articles", headers=headers, json=ARTICLE)

    other = client.post(
        "/api/articles", headers=headers, json={"article": {**ARTICLE["article"], "title": "Two"}}
    )

    assert other.status_code == 422
    assert other.get_json() == {
        "errors": {"Idempotency-Key": ["was already used for a different request"]}
    }


def test_keys_belong_to_their_user(client, sign_up):
    jake, anne = sign_up("jake"), sign_up("anne")

    for author in (jake, anne):
        response = client.post(
            "/api/articles", headers={**author.headers, "Idempotency-Key": "same"}, json=ARTICLE
        )
        assert response.status_code == 201
        assert response.get_json()["article"]["author"]["username"] == author.username


def test_a_failed_request_releases_its_key(client, sign_up):
    jake = sign_up()
    headers = {**jake.headers, "Idempotency-Key": "fix-and-retry"}
    bad = {"article": {**ARTICLE["article"], "title": ""}}
    assert client.post("/api/articles", headers=headers, json=bad).status_code == 422

    fixed = client.post("/api/articles", headers=headers, json=ARTICLE)

    assert fixed.status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "naïve"])
def test_a_malformed_key_is_422(client, sign_up, key):
    response = client.post(
        "/api/articles", headers={**sign_up().headers, "Idempotency-Key": key}, json=ARTICLE
    )

    assert response.status_code == 422
    assert "Idempotency-Key" in response.get_json()["errors"]


def test_a_retry_while_the_first_still_runs_is_409_and_only_one_writes(app, sign_up):
    jake = sign_up()
    headers = {**jake.headers, "Idempotency-Key": "racing"}

    def send(_):
        return app.test_client().post("/api/articles", headers=headers, json=ARTICLE)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(send, range(8)))

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) >= 1
    for response in responses:
        if response.status_code == 409:
            assert response.headers["Retry-After"] == "1"
    assert app.test_client().get("/api/articles").get_json()["articlesCount"] == 1


def test_registration_and_comments_replay_too(client, sign_up, publish):
    new_user = {"user": {"username": "finn", "email": "finn@x.io", "password": "password1"}}
    first = client.post("/api/users", headers={"Idempotency-Key": "signup"}, json=new_user)
    again = client.post("/api/users", headers={"Idempotency-Key": "signup"}, json=new_user)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()

    jake = sign_up()
    slug = publish(jake)["slug"]
    comment = {"comment": {"body": "hi"}}
    headers = {**jake.headers, "Idempotency-Key": "comment-1"}
    one = client.post(f"/api/articles/{slug}/comments", headers=headers, json=comment)
    two = client.post(f"/api/articles/{slug}/comments", headers=headers, json=comment)
    assert one.get_json() == two.get_json()
    assert len(client.get(f"/api/articles/{slug}/comments").get_json()["comments"]) == 1
