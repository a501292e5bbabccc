"""What follows each write: the one table of cache invalidations and jobs.

A write use case commits, then says in one line what happened
(``effects.article_published(ctx, ...)``); the function of that name below
lists every consequence. A reader adding a write looks here, and nowhere
else, for what it makes stale and what it runs in the background.

Each event runs after the outermost commit (``SqlDatabase.after_commit``):
at once outside a unit of work, when the unit commits inside one, and never
when it rolls back. Nothing here raises: the write has committed, so a cache
or queue that does not answer is left to the cache epoch and the outbox relay.

A job must be as durable as the write that caused it, so an event that runs
jobs comes in two parts: ``record_<event>(conn, ...)`` inside the write's
transaction puts them in the outbox (``background.record``), and the event
after the commit dispatches what was recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Concatenate, ParamSpec

from imflask_controllers import background, caches, lists
from imflask_controllers.background import PendingJob
from imflask_controllers.context import Context
from imflask_models.mysql.database import SqlConnection

P = ParamSpec("P")
Jobs = Sequence[PendingJob]


def _after_commit(
    event: Callable[Concatenate[Context, P], None],
) -> Callable[Concatenate[Context, P], None]:
    """Calling the event registers its body to run after the commit, with these facts."""

    @functools.wraps(event)
    def register(ctx: Context, *args: P.args, **kwargs: P.kwargs) -> None:
        ctx.stores.sql.after_commit(lambda: event(ctx, *args, **kwargs))

    return register


# The events, in the order a reader meets them: what each makes stale, what it runs.


@_after_commit
def article_published(
    ctx: Context, *, author_id: int, author_name: str, tags: Iterable[str], jobs: Jobs
) -> None:
    """A new article (``jobs`` from ``record_article_published``)."""
    caches.forget_popular_tags(ctx)
    lists.article_published(ctx, author_id=author_id, author_name=author_name, tags=tags)
    _dispatch(ctx, jobs)


@_after_commit
def article_changed(ctx: Context, *, slugs: Iterable[str], tags_changed: bool) -> None:
    """An article's fields changed (``slugs``: its old and new slug)."""
    caches.forget_articles(ctx, *slugs)
    lists.everything_changed(ctx)  # a list shows the title, description, tags and slug
    if tags_changed:
        caches.forget_popular_tags(ctx)


@_after_commit
def article_deleted(ctx: Context, *, slug: str, jobs: Jobs) -> None:
    """An article is gone (``jobs`` from ``record_article_deleted``)."""
    caches.forget_articles(ctx, slug)
    caches.forget_popular_tags(ctx)
    lists.everything_changed(ctx)
    _dispatch(ctx, jobs)


@_after_commit
def favorites_changed(
    ctx: Context, *, slug: str, article_id: int, username: str, user_id: int
) -> None:
    """A user favorited or unfavorited an article."""
    caches.forget_articles(ctx, slug)  # it shows the count
    lists.favorite_changed(ctx, username=username, user_id=user_id, article_id=article_id)


@_after_commit
def follows_changed(ctx: Context, *, follower_id: int) -> None:
    """A user followed or unfollowed someone: their feed changed."""
    lists.follows_changed(ctx, follower_id=follower_id)


@_after_commit
def user_changed(
    ctx: Context, *, user_id: int, usernames: Iterable[str], slugs: Iterable[str]
) -> None:
    """A user's account or profile changed: their signed-in requests' copy, their profile
    under its old and new names, and their articles (``slugs``, read in the change's
    transaction), which show it."""
    caches.forget_signed_in_user(ctx, user_id)
    caches.forget_profiles(ctx, *usernames)
    caches.forget_articles(ctx, *slugs)
    lists.everything_changed(ctx)  # lists show the author


@_after_commit
def data_seeded(ctx: Context) -> None:
    """Rows were inserted in bulk (``seeding``): tags and every list may show them."""
    caches.forget_popular_tags(ctx)
    lists.everything_changed(ctx)


@_after_commit
def followers_batched(ctx: Context, *, jobs: Jobs) -> None:
    """A fan-out was split into batches (``jobs`` from ``record_followers_batched``)."""
    _dispatch(ctx, jobs)


# The jobs, recorded in the outbox inside the write's transaction: each is a use case's
# function registered by name beside it (``imflask_controllers.jobs``). The use-case
# modules import this one, so their job functions are imported where they are named.


def record_article_published(conn: SqlConnection, *, article_id: int) -> Jobs:
    """Tell the author's followers, in the background."""
    from imflask_controllers import notifications

    return [background.record(conn, notifications.notify_followers, article_id=article_id)]


def record_article_deleted(conn: SqlConnection, *, article_id: int) -> Jobs:
    """Delete its comments, unreachable from the commit on, in the background."""
    from imflask_controllers import articles

    return [background.record(conn, articles.delete_comments_of_article, article_id=article_id)]


def record_followers_batched(
    conn: SqlConnection, *, article_id: int, batches: Iterable[list[int]]
) -> Jobs:
    """One job per batch of followers to notify of the article."""
    from imflask_controllers import notifications

    return [
        background.record(
            conn, notifications.notify_follower_batch, article_id=article_id, follower_ids=batch
        )
        for batch in batches
    ]


def _dispatch(ctx: Context, jobs: Jobs) -> None:
    for pending in jobs:
        background.dispatch(ctx, pending)
