"""Notifications: fan-out when an author publishes, and each user's inbox."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from imflask_controllers import background
from imflask_controllers.context import Context
from imflask_controllers.errors import Invalid
from imflask_models.mongo import notifications as inbox
from imflask_models.mysql import articles as articles_table
from imflask_models.mysql import follows
from imflask_models.mysql import users as users_table
from imflask_models.mysql.database import SqlConnection
from imflask_models.mysql.users import UserRow

log = logging.getLogger(__name__)

FAN_OUT_BATCH = 500
NOTIFY_FOLLOWERS_JOB = "imflask_worker.jobs.notify_followers"


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


def article_published(conn: SqlConnection, *, article_id: int) -> background.PendingJob:
    """Tell the author's followers, in the background: recorded in the publishing
    transaction, dispatched after it (see ``background``)."""
    return background.record(conn, NOTIFY_FOLLOWERS_JOB, notify_followers, article_id=article_id)


def notify_followers(ctx: Context, *, article_id: int) -> int:
    """Put a notice of the article in each follower's inbox, in batches; idempotent.

    Returns how many notices were new.
    """
    with ctx.stores.sql.connection() as conn:
        article = articles_table.article_by_id(conn, article_id)
        author = users_table.user_by_id(conn, article.author_id) if article else None
    if article is None or author is None:
        log.info("article %s is gone; nobody to notify", article_id)
        return 0
    created, after = 0, 0
    while True:
        with ctx.stores.sql.connection() as conn:
            batch = follows.follower_ids(conn, author.id, after=after, limit=FAN_OUT_BATCH)
        if not batch:
            break
        docs = [
            inbox.new_article_notice(
                user_id=follower_id,
                article_id=article.id,
                slug=article.slug,
                title=article.title,
                actor_id=author.id,
                actor_username=author.username,
            )
            for follower_id in batch
        ]
        created += inbox.insert_notifications(ctx.stores.mongo.db, docs)
        after = batch[-1]
    log.info("article %s: %s new notifications", article_id, created)
    return created


def inbox_of(ctx: Context, *, user: UserRow, limit: int = 20, offset: int = 0) -> Inbox:
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


def mark_read(ctx: Context, *, user: UserRow, ids: list[str] | None = None) -> int:
    """Mark the user's notifications read (only ``ids`` when given); return the unread count."""
    if ids is not None and not all(inbox.is_notification_id(i) for i in ids):
        raise Invalid("ids", "must be notification ids")
    inbox.mark_read(ctx.stores.mongo.db, user.id, ids)
    return inbox.count_notifications(ctx.stores.mongo.db, user.id, unread_only=True)
