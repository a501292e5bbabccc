"""Response shapes of the RealWorld objects, built from the controllers' plain data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from imflask_controllers.articles import Article, ArticlePage
from imflask_controllers.comments import Comment
from imflask_controllers.notifications import Inbox, Notification
from imflask_controllers.profiles import Profile
from imflask_controllers.users import AuthenticatedUser

JSON = dict[str, Any]  # a JSON object, as Flask serialises it


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds: ``2016-02-18T03:22:56.637Z``."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def user_json(user: AuthenticatedUser) -> JSON:
    return {
        "user": {
            "email": user.email,
            "token": user.token,
            "username": user.username,
            "bio": user.bio,
            "image": user.image,
        }
    }


def profile(p: Profile) -> JSON:
    return {"username": p.username, "bio": p.bio, "image": p.image, "following": p.following}


def profile_json(p: Profile) -> JSON:
    return {"profile": profile(p)}


def article(a: Article) -> JSON:
    shaped: JSON = {
        "slug": a.slug,
        "title": a.title,
        "description": a.description,
        "body": a.body,
        "tagList": sorted(a.tags),
        "createdAt": timestamp(a.created_at),
        "updatedAt": timestamp(a.updated_at),
        "favorited": a.favorited,
        "favoritesCount": a.favorites_count,
        "author": profile(a.author),
    }
    if a.body is None:  # lists and the feed leave the body out, as the spec says
        del shaped["body"]
    return shaped


def article_json(a: Article) -> JSON:
    return {"article": article(a)}


def articles_json(page: ArticlePage) -> JSON:
    return {"articles": [article(a) for a in page.articles], "articlesCount": page.total}


def comment(c: Comment) -> JSON:
    return {
        "id": c.id,
        "createdAt": timestamp(c.created_at),
        "updatedAt": timestamp(c.updated_at),
        "body": c.body,
        "author": profile(c.author),
    }


def comment_json(c: Comment) -> JSON:
    return {"comment": comment(c)}


def comments_json(comments: list[Comment]) -> JSON:
    return {"comments": [comment(c) for c in comments]}


def notification(n: Notification) -> JSON:
    return {
        "id": n.id,
        "kind": n.kind,
        "read": n.read,
        "createdAt": timestamp(n.created_at),
        "article": {"slug": n.slug, "title": n.title},
        "actor": {"username": n.actor_username},
    }


def inbox_json(inbox: Inbox) -> JSON:
    return {
        "notifications": [notification(n) for n in inbox.notifications],
        "notificationsCount": inbox.total,
        "unreadCount": inbox.unread,
    }
