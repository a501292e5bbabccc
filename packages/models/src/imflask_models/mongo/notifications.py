"""The ``notifications`` collection: each user's inbox, newest first.

A unique index on (user, article, kind) makes fan-out jobs idempotent: running
one twice inserts nothing the second time, whatever the timing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import BulkWriteError

from imflask_models.mongo.client import MongoDb, declare_indexes, unavailable_on_failure

NOTIFICATIONS = "notifications"
ARTICLE_PUBLISHED = "article_published"
DUPLICATE_KEY = 11000

declare_indexes(
    NOTIFICATIONS,
    [
        IndexModel(
            [("user_id", ASCENDING), ("article_id", ASCENDING), ("kind", ASCENDING)],
            name="notifications_once",
            unique=True,
        ),
        # Serves "my notifications, newest first" and the unread count.
        IndexModel(
            [("user_id", ASCENDING), ("created_at", DESCENDING)], name="notifications_newest"
        ),
        IndexModel([("user_id", ASCENDING), ("read", ASCENDING)], name="notifications_unread"),
    ],
)


@dataclass(frozen=True)
class NotificationDoc:
    id: str
    user_id: int
    kind: str
    article_id: int
    slug: str
    title: str
    actor_id: int
    actor_username: str
    created_at: datetime
    read: bool


def new_article_notice(
    *, user_id: int, article_id: int, slug: str, title: str, actor_id: int, actor_username: str
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "kind": ARTICLE_PUBLISHED,
        "article_id": article_id,
        "slug": slug,
        "title": title,
        "actor_id": actor_id,
        "actor_username": actor_username,
        "created_at": datetime.now(UTC),
        "read": False,
    }


@unavailable_on_failure
def insert_notifications(db: MongoDb, docs: list[dict[str, Any]]) -> int:
    """Insert what is not there yet; return how many were new (duplicates are skipped)."""
    if not docs:
        return 0
    try:
        return len(db[NOTIFICATIONS].insert_many(docs, ordered=False).inserted_ids)
    except BulkWriteError as error:
        others = [e for e in error.details["writeErrors"] if e["code"] != DUPLICATE_KEY]
        if others:
            raise
        return error.details["nInserted"]


@unavailable_on_failure
def notifications_of(
    db: MongoDb, user_id: int, *, limit: int, offset: int
) -> list[NotificationDoc]:
    cursor = (
        db[NOTIFICATIONS]
        .find({"user_id": user_id})
        .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        .skip(offset)
        .limit(limit)
    )
    return [_doc(raw) for raw in cursor]


@unavailable_on_failure
def count_notifications(db: MongoDb, user_id: int, *, unread_only: bool = False) -> int:
    query: dict[str, Any] = {"user_id": user_id}
    if unread_only:
        query["read"] = False
    return db[NOTIFICATIONS].count_documents(query)


@unavailable_on_failure
def mark_read(db: MongoDb, user_id: int, ids: list[str] | None = None) -> int:
    """Mark the user's notifications read (only ``ids`` if given); return how many changed."""
    query: dict[str, Any] = {"user_id": user_id, "read": False}
    if ids is not None:
        query["_id"] = {"$in": [ObjectId(i) for i in ids]}
    return db[NOTIFICATIONS].update_many(query, {"$set": {"read": True}}).modified_count


def is_notification_id(value: str) -> bool:
    return ObjectId.is_valid(value) and len(value) == 24


def _doc(raw: dict[str, Any]) -> NotificationDoc:
    return NotificationDoc(
        id=str(raw["_id"]),
        user_id=raw["user_id"],
        kind=raw["kind"],
        article_id=raw["article_id"],
        slug=raw["slug"],
        title=raw["title"],
        actor_id=raw["actor_id"],
        actor_username=raw["actor_username"],
        created_at=raw["created_at"],
        read=raw["read"],
    )
