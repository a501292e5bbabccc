"""Concurrent writers on a healthy store: every write succeeds, none is called an outage."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest


@pytest.mark.parametrize("writers", [2, 4, 20])
def test_concurrent_creates_with_shared_tags_all_succeed(app, sign_up, writers):
    authors = [sign_up(f"writer{i}") for i in range(writers)]
    rounds = 3

    def create(i: int) -> tuple[int, dict]:
        author = authors[i % writers]
        response = app.test_client().post(
            "/api/articles",
            headers=author.headers,
            json={
                "article": {
                    "title": f"Concurrent {i}",
                    "description": "d",
                    "body": "b",
                    # overlapping sets, new and old names, in different orders
                    "tagList": ["shared", f"new-{i}", "common", f"pair-{i // 2}"][
                        :: 1 - 2 * (i % 2)
                    ],
                }
            },
        )
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(create, range(writers * rounds)))

    assert [status for status, _ in results] == [201] * (writers * rounds), [
        body for status, body in results if status != 201
    ][:3]
    listed = app.test_client().get("/api/articles?tag=shared&limit=100").get_json()
    assert listed["articlesCount"] == writers * rounds
    for _, body in results:
        tags = body["article"]["tagList"]
        assert tags == sorted(tags)
        assert {"shared", "common"} <= set(tags)


def test_a_conflict_that_outlasts_the_retries_is_busy_not_an_outage(
    client, sign_up, monkeypatch, caplog
):
    from imflask_core.errors import TransactionConflict
    from imflask_models.mysql import tags

    jake = sign_up()
    attempts = []

    def always_deadlocked(conn, article_id, tag_ids):
        attempts.append(article_id)
        raise TransactionConflict("(1213, 'Deadlock found when trying to get lock')")

    monkeypatch.setattr(tags, "add_article_tags", always_deadlocked)
    response = client.post(
        "/api/articles",
        headers=jake.headers,
        json={"article": {"title": "t", "description": "d", "body": "b", "tagList": ["x"]}},
    )

    assert response.status_code == 503
    assert response.get_json() == {"errors": {"mysql": ["is busy, try again"]}}
    assert response.headers["Retry-After"] == "1"
    assert len(attempts) == 5
    assert "store unavailable" not in caplog.text
    assert client.get("/api/articles").get_json()["articlesCount"] == 0
