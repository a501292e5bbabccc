"""Notifications: fan-out when an author publishes, and each user's inbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from imflask_controllers import effects, limits
from imflask_controllers.context import Context
from imflask_controllers.errors import Invalid
from imflask_controllers.jobs import register_job
from imflask_controllers.users import User
from imflask_models.mongo import notifications as inbox
from imflask_models.mysql import articles as articles_table
from imflask_models.mysql import follows
from imflask_models.mysql import users as users_table
from imflask_models.mysql.articles import ArticleRow
from imflask_models.mysql.database import SqlConnection

log = logging.getLogger(__name__)

FAN_OUT_BATCH = 500


@dataclass(frozen=True)
class Notification:
    id: str
    kind: str
    read: bool
    created_at: datetime
    slug: str
    title: str
    actor_username: str


@dataclass(frozen=True)
class Inbox:
    notifications: list[Notification]
    total: int
    unread: int


@register_job("notify_followers")
def notify_followers(ctx: Context, *, article_id: int) -> int:
    """Notify the author's followers; return in how many batches.

    The job of a publication (``effects.record_article_published``).

    Followers who fit in one batch (``FAN_OUT_BATCH``) are notified by this job
    itself: a batch job of its own would cost an outbox row, a queue round and a
    commit marking it done, for one insert. More are split into batches, each its
    own job (a batch that fails is retried alone, and several workers share a big
    fan-out), recorded in the outbox in one transaction so that no batch is lost
    with the queue. Running this twice inserts nothing new (``notify_follower_batch``).
    """
    with ctx.stores.sql.connection() as conn:
        article = articles_table.article_by_id(conn, article_id)
    if article is None:
        log.info("article %s is gone; nobody to notify", article_id)
        return 0
    batches: list[list[int]] = []
    after = 0
    while True:
        with ctx.stores.sql.connection() as conn:
            batch = follows.follower_ids(conn, article.author_id, after=after, limit=FAN_OUT_BATCH)
        if batch:
            batches.append(batch)
        if len(batch) < FAN_OUT_BATCH:  # the last one
            break
        after = batch[-1]
    if len(batches) == 1:
        _notify(ctx, article, batches[0])
        return 1

    def record(conn: SqlConnection) -> effects.Jobs:
        return effects.record_followers_batched(conn, article_id=article_id, batches=batches)

    jobs: effects.Jobs = ctx.stores.sql.run_transaction(record) if batches else []
    effects.followers_batched(ctx, jobs=jobs)
    followers = sum(len(batch) for batch in batches)
    log.info("article %s: %s followers in %s batches", article_id, followers, len(batches))
    return len(batches)


@register_job("notify_follower_batch")
def notify_follower_batch(ctx: Context, *, article_id: int, follower_ids: list[int]) -> int:
    """Put a notice of the article in these followers' inboxes; return how many were new.

    One ``insert_many`` (unordered) against the unique (user, article, kind)
    index: a notice already there is skipped, so a re-run inserts nothing.
    """
    with ctx.stores.sql.connection() as conn:
        article = articles_table.article_by_id(conn, article_id)
    if article is None:
        log.info("article %s is gone; nobody to notify", article_id)
        return 0
    return _notify(ctx, article, follower_ids)


def _notify(ctx: Context, article: ArticleRow, follower_ids: list[int]) -> int:
    """The notices of ``article`` for these followers, inserted once each; how many new."""
    with ctx.stores.sql.connection() as conn:
        author = users_table.user_by_id(conn, article.author_id)
    if author is None:
        log.info("article %s has no author; nobody to notify", article.id)
        return 0
    docs = [
        inbox.new_article_notice(
            user_id=follower_id,
            article_id=article.id,
            slug=article.slug,
            title=article.title,
            actor_id=author.id,
            actor_username=author.username,
        )
        for follower_id in follower_ids
    ]
    created = inbox.insert_notifications(ctx.stores.mongo.db, docs)
    log.info("article %s: %s new notifications of %s", article.id, created, len(docs))
    return created


def inbox_of(ctx: Context, *, user: User, limit: int = 20, offset: int = 0) -> Inbox:
    """The user's notifications, newest first, with the total and unread counts."""
    db = ctx.stores.mongo.db
    docs = inbox.notifications_of(db, user.id, limit=limit, offset=offset)
    return Inbox(
        notifications=[
            Notification(d.id, d.kind, d.read, d.created_at, d.slug, d.title, d.actor_username)
            for d in docs
        ],
        total=inbox.count_notifications(db, user.id),
        unread=inbox.count_notifications(db, user.id, unread_only=True),
    )


@limits.write_limited(by="user")
def mark_read(ctx: Context, *, user: User, ids: list[str] | None = None) -> int:
    """Mark the user's notifications read (only ``ids`` when given); return the unread count."""
    if ids is not None and not all(inbox.is_notification_id(i) for i in ids):
        raise Invalid("ids", "must be notification ids")
    inbox.mark_read(ctx.stores.mongo.db, user.id, ids)
    return inbox.count_notifications(ctx.stores.mongo.db, user.id, unread_only=True)
