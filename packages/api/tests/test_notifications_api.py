"""Notifications through HTTP: publishing fills followers' inboxes (jobs inline in testing)."""

from __future__ import annotations

import pytest

from imflask_app.factory import context_of
from imflask_controllers.jobs import WORKER_ENTRY_POINT


@pytest.fixture
def followed(client, sign_up, publish):
    """jake publishes after anne and bob follow him; returns (jake, anne, bob, article)."""
    jake, anne, bob = sign_up("jake"), sign_up("anne"), sign_up("bob")
    for fan in (anne, bob):
        client.post("/api/profiles/jake/follow", headers=fan.headers)
    article = publish(jake, title="Fresh news")
    return jake, anne, bob, article


def test_followers_are_notified_when_an_author_publishes(client, followed):
    jake, anne, _, article = followed

    response = client.get("/api/v1/notifications", headers=anne.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert body["unreadCount"] == 1
    assert body["notificationsCount"] == 1
    (notice,) = body["notifications"]
    assert notice["kind"] == "article_published"
    assert notice["read"] is False
    assert notice["article"] == {"slug": article["slug"], "title": "Fresh news"}
    assert notice["actor"] == {"username": "jake"}
    assert len(notice["id"]) == 24
    assert (
        client.get("/api/v1/notifications", headers=jake.headers).get_json()["notificationsCount"]
        == 0
    )


def test_notifications_are_newest_first_and_paginated(client, followed, publish):
    jake, anne, _, _ = followed
    publish(jake, title="Second")
    publish(jake, title="Third")

    page = client.get("/api/v1/notifications?limit=2&offset=1", headers=anne.headers).get_json()

    assert [n["article"]["title"] for n in page["notifications"]] == ["Second", "Fresh news"]
    assert page["notificationsCount"] == 3


def test_marking_some_or_all_read(client, followed, publish):
    jake, anne, _, _ = followed
    publish(jake, title="Second")
    first_id = client.get("/api/v1/notifications", headers=anne.headers).get_json()[
        "notifications"
    ][0]["id"]

    some = client.post("/api/v1/notifications/read", headers=anne.headers, json={"ids": [first_id]})
    everything = client.post("/api/v1/notifications/read", headers=anne.headers)

    assert some.get_json() == {"unreadCount": 1}
    assert everything.get_json() == {"unreadCount": 0}
    listed = client.get("/api/v1/notifications", headers=anne.headers).get_json()
    assert all(n["read"] for n in listed["notifications"])


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"ids": ["not-an-id"]}, {"ids": ["must be notification ids"]}),
        ({"ids": "abc"}, {"ids": ["must be a list"]}),
        ({"ids": []}, {"ids": ["can't be empty; leave it out to mark everything read"]}),
        ({"ids": [{"$ne": None}]}, {"ids": ["must be a string"]}),
    ],
)
def test_malformed_ids_are_422(client, followed, body, errors):
    _, anne, _, _ = followed

    response = client.post("/api/v1/notifications/read", headers=anne.headers, json=body)

    assert response.status_code == 422
    assert response.get_json() == {"errors": errors}


def test_nobody_can_mark_someone_elses_notifications(client, followed):
    _, anne, bob, _ = followed
    bobs = client.get("/api/v1/notifications", headers=bob.headers).get_json()["notifications"]

    client.post("/api/v1/notifications/read", headers=anne.headers, json={"ids": [bobs[0]["id"]]})

    assert client.get("/api/v1/notifications", headers=bob.headers).get_json()["unreadCount"] == 1


@pytest.mark.parametrize(("method", "path"), [("get", ""), ("post", "/read")])
def test_notifications_need_a_token(client, method, path):
    assert getattr(client, method)(f"/api/v1/notifications{path}").status_code == 401


def test_a_queued_job_carries_the_request_id(make_app, job_queue):
    from rq import Queue

    from imflask_models.redis import jobs

    app = make_app(jobs_inline=False)
    client = app.test_client()
    token = client.post(
        "/api/users",
        json={"user": {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}},
    ).get_json()["user"]["token"]

    client.post(
        "/api/articles",
        headers={"Authorization": f"Token {token}", "X-Request-ID": "req-42"},
        json={"article": {"title": "t", "description": "d", "body": "b"}},
    )

    store = context_of(app).stores.redis
    (job,) = Queue(job_queue, connection=store.queue_client).jobs
    assert job.func_name == WORKER_ENTRY_POINT
    assert job.kwargs["name"] == "notify_followers"
    assert job.meta["request_id"] == "req-42"
    assert job.retries_left == len(app.extensions["imflask.settings"].job_retry_intervals)
    assert jobs.status(store, job_queue).queued == 1
