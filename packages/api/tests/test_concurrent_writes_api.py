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


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "commits"),  # the write's own commit is the last
    [
        (
            "post",
            "/api/articles",
            {"article": {"title": "New", "description": "d", "body": "b", "tagList": ["x"]}},
            201,
            2,  # the tags' own statement, then the article
        ),
        ("put", "/api/articles/{slug}", {"article": {"body": "v2", "tagList": ["y"]}}, 200, 2),
        ("post", "/api/articles/{slug}/favorite", None, 200, 1),
        ("put", "/api/user", {"user": {"bio": "new bio"}}, 200, 1),
    ],
)
def test_a_write_whose_store_goes_away_after_the_commit_still_answers_success(
    client, sign_up, publish, monkeypatch, method, path, body, status, commits
):
    from imflask_core.errors import StoreUnavailable
    from imflask_models.mysql.database import SqlConnection, SqlDatabase

    jake = sign_up()
    slug = publish(jake, title="Old")["slug"]
    real_commit = SqlConnection.commit
    committed = []

    def commit_then_lose_the_store(self):
        real_commit(self)
        committed.append(1)
        if len(committed) < commits:
            return

        def lost(*_):
            raise StoreUnavailable("mysql", "Lost connection to server during query")

        monkeypatch.setattr(SqlDatabase, "_borrow", lost)

    monkeypatch.setattr(SqlConnection, "commit", commit_then_lose_the_store)
    kwargs = {"json": body} if body is not None else {}

    response = getattr(client, method)(path.format(slug=slug), headers=jake.headers, **kwargs)

    assert response.status_code == status, response.get_json()
    monkeypatch.undo()
    if method == "post" and path == "/api/articles":
        assert response.get_json()["article"]["tagList"] == ["x"]
        assert client.get("/api/articles").get_json()["articlesCount"] == 2
