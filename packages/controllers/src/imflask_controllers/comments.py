"""Use cases of comments: they live in MongoDB, their authors in MySQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from imflask_controllers import limits, profiles
from imflask_controllers.articles import article_id_by_slug
from imflask_controllers.context import Context
from imflask_controllers.errors import Forbidden, NotFound
from imflask_controllers.profiles import Profile
from imflask_controllers.users import User
from imflask_models.mongo import comments as comments_collection
from imflask_models.mysql import articles as articles_table

MAX_COMMENTS = 1000  # per article and response; RealWorld lists have no paging here
PRUNE_BATCH = 1000  # article ids per round of ``prune_orphaned_comments``


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    created_at: datetime
    updated_at: datetime
    author: Profile


def list_comments(ctx: Context, *, slug: str, viewer: User | None) -> list[Comment]:
    """The article's comments, newest first."""
    article_id = article_id_by_slug(ctx, slug)
    docs = comments_collection.comments_of_article(
        ctx.stores.mongo.db, article_id, limit=MAX_COMMENTS
    )
    with ctx.stores.sql.connection() as conn:
        authors = profiles.profiles_of(conn, {doc.author_id for doc in docs}, viewer)
    return [
        Comment(doc.id, doc.body, doc.created_at, doc.updated_at, authors[doc.author_id])
        for doc in docs
        if doc.author_id in authors  # a deleted author's comments go with them
    ]


@limits.write_limited(by="author")
def add_comment(ctx: Context, *, slug: str, author: User, body: str) -> Comment:
    article_id = article_id_by_slug(ctx, slug)
    doc = comments_collection.insert_comment(
        ctx.stores.mongo.db, article_id=article_id, author_id=author.id, body=body
    )
    me = Profile(author.username, author.bio, author.image, following=False)
    return Comment(doc.id, doc.body, doc.created_at, doc.updated_at, me)


@limits.write_limited(by="user")
def delete_comment(ctx: Context, *, slug: str, comment_id: int, user: User) -> None:
    """Only the comment's author may delete it."""
    article_id = article_id_by_slug(ctx, slug)
    doc = comments_collection.comment_by_id(ctx.stores.mongo.db, comment_id)
    if doc is None or doc.article_id != article_id:
        raise NotFound("comment")
    if doc.author_id != user.id:
        raise Forbidden("comment", "can only be deleted by its author")
    comments_collection.delete_comment(ctx.stores.mongo.db, comment_id)


def prune_orphaned_comments(ctx: Context) -> int:
    """Delete the comments whose article is gone; return how many.

    An article's comments are deleted after it is (``articles.delete_article``);
    this sweeps up what that left when MongoDB was down at the time, or a comment
    that raced its article's deletion. Article ids are never reused.
    """
    removed, after = 0, 0
    while ids := comments_collection.commented_article_ids(
        ctx.stores.mongo.db, after=after, limit=PRUNE_BATCH
    ):
        with ctx.stores.sql.connection() as conn:
            existing = articles_table.existing_ids(conn, ids)
        gone = [article_id for article_id in ids if article_id not in existing]
        if gone:
            removed += comments_collection.delete_comments_of_articles(ctx.stores.mongo.db, gone)
        after = ids[-1]
    return removed
