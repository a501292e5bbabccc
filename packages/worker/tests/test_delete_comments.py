"""Deleting an article queues the deletion of its comments; a real worker does it."""

from __future__ import annotations

from imflask_controllers import articles, comments, users


def test_a_real_worker_deletes_the_comments_of_a_deleted_article(
    make_context, run_worker, job_queue, ctx
):
    queued = make_context(jobs_inline=False)
    token = users.register_user(
        queued, username="jake", email="jake@x.io", password="password1", client_ip="test"
    ).token
    jake = users.authenticate(queued, token).user
    for title in ("doomed", "kept"):
        articles.create_article(
            queued, author=jake, title=title, description="d", body="b", tags=[]
        )
        comments.add_comment(queued, slug=title, author=jake, body="hi")
    run_worker()  # the notification jobs of the two articles

    articles.delete_article(queued, slug="doomed", user=jake)
    stored = ctx.stores.mongo.db["comments"]
    assert stored.count_documents({}) == 2  # queued, not done

    worker = run_worker()

    assert worker.returncode == 0, worker.stderr
    assert stored.count_documents({}) == 1
    assert len(comments.list_comments(ctx, slug="kept", viewer=None)) == 1
