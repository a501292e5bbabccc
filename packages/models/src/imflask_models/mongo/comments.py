"""The ``comments`` collection: one document per comment, with an integer id.

RealWorld's comment ``id`` is an integer, so ids come from an atomic counter
(``counters`` collection, ``find_one_and_update`` with ``$inc``) rather than
from ObjectIds; a unique index on ``id`` guards it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from imflask_models.mongo.client import MongoDb, declare_indexes, unavailable_on_failure

COMMENTS = "comments"
COUNTERS = "counters"
MAX_ID = 2**63 - 1  # BSON int64

declare_indexes(
    COMMENTS,
    [
        IndexModel([("id", ASCENDING)], name="comments_id_unique", unique=True),
        # Serves "comments of an article, newest first".
        IndexModel(
            [("article_id", ASCENDING), ("created_at", DESCENDING), ("id", DESCENDING)],
            name="comments_article_newest",
        ),
    ],
)


@dataclass(frozen=True)
class CommentDoc:
    id: int
    article_id: int
    author_id: int
    body: str
    created_at: datetime
    updated_at: datetime


_PROJECTION = {"_id": 0, "id": 1, "article_id": 1, "author_id": 1, "body": 1,
               "created_at": 1, "updated_at": 1}  # fmt: skip


@unavailable_on_failure
def next_comment_id(db: MongoDb) -> int:
    """The next comment id: atomic and unique however many writers race."""
    for _ in range(5):
        try:
            counter = db[COUNTERS].find_one_and_update(
                {"_id": COMMENTS},
                {"$inc": {"seq": 1}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            continue  # two first-ever upserts raced; the counter exists now
        if counter is not None:  # (SecantusDB can answer None to a racing first upsert)
            return int(counter["seq"])
    raise RuntimeError("could not allocate a comment id")


@unavailable_on_failure
def insert_comment(db: MongoDb, *, article_id: int, author_id: int, body: str) -> CommentDoc:
    now = datetime.now(UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    comment = CommentDoc(
        id=next_comment_id(db),
        article_id=article_id,
        author_id=author_id,
        body=body,
        created_at=now,
        updated_at=now,
    )
    db[COMMENTS].insert_one(dict(vars(comment)))
    return comment


@unavailable_on_failure
def comments_of_article(db: MongoDb, article_id: int, *, limit: int = 1000) -> list[CommentDoc]:
    """Newest first."""
    cursor = (
        db[COMMENTS]
        .find({"article_id": article_id}, _PROJECTION)
        .sort([("created_at", DESCENDING), ("id", DESCENDING)])
        .limit(limit)
    )
    return [_doc(raw) for raw in cursor]


@unavailable_on_failure
def comment_by_id(db: MongoDb, comment_id: int) -> CommentDoc | None:
    if not 0 < comment_id <= MAX_ID:
        return None
    raw = db[COMMENTS].find_one({"id": comment_id}, _PROJECTION)
    return None if raw is None else _doc(raw)


@unavailable_on_failure
def delete_comment(db: MongoDb, comment_id: int) -> bool:
    return db[COMMENTS].delete_one({"id": comment_id}).deleted_count == 1


@unavailable_on_failure
def delete_comments_of_article(db: MongoDb, article_id: int) -> int:
    return db[COMMENTS].delete_many({"article_id": article_id}).deleted_count


@unavailable_on_failure
def delete_comments_of_articles(db: MongoDb, article_ids: list[int]) -> int:
    return db[COMMENTS].delete_many({"article_id": {"$in": article_ids}}).deleted_count


@unavailable_on_failure
def commented_article_ids(db: MongoDb, *, after: int = 0, limit: int = 1000) -> list[int]:
    """Ids of the articles that have comments, ascending, from ``after`` on (for sweeps)."""
    pipeline = [
        {"$match": {"article_id": {"$gt": after}}},
        {"$group": {"_id": "$article_id"}},
        {"$sort": {"_id": 1}},
        {"$limit": limit},
    ]
    return [row["_id"] for row in db[COMMENTS].aggregate(pipeline)]


def _doc(raw: dict[str, Any]) -> CommentDoc:
    return CommentDoc(**raw)
