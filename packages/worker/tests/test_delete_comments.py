"""Deleting an article queues the deletion of its comments; a real worker does it."""

from __future__ import annotations


def test_a_real_worker_deletes_the_comments_of_a_deleted_article(
    make_app, run_worker, job_queue, ctx
):
    client = make_app(jobs_inline=False).test_client()
    token = client.post(
        "/api/users",
        json={"user": {"username": "jake", "email": "jake@x.io", "password": "password1"}},
    ).get_json()["user"]["token"]
    headers = {"Authorization": f"Token {token}"}
    for title in ("doomed", "kept"):
        client.post(
            "/api/articles",
            headers=headers,
            json={"article": {"title": title, "description": "d", "body": "b"}},
        )
        client.post(
            f"/api/articles/{title}/comments", headers=headers, json={"comment": {"body": "hi"}}
        )
    run_worker()  # the notification jobs of the two articles

    assert client.delete("/api/articles/doomed", headers=headers).status_code == 204
    comments = ctx.stores.mongo.db["comments"]
    assert comments.count_documents({}) == 2  # queued, not done

    worker = run_worker()

    assert worker.returncode == 0, worker.stderr
    assert comments.count_documents({}) == 1
    assert len(client.get("/api/articles/kept/comments").get_json()["comments"]) == 1
