"""Response schemas: the shapes ``serializers`` builds, for the OpenAPI document and tests.

They are not validated at run time (the serializers build plain dicts on the hot
path); ``test_openapi.py`` checks that real answers match them. A docstring is the
description of the response (for envelopes) or of the object.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Timestamp = Annotated[
    str,
    Field(
        description="ISO 8601 in UTC with milliseconds.",
        examples=["2016-02-18T03:22:56.637Z"],
        json_schema_extra={"format": "date-time"},
    ),
]
Count = Annotated[int, Field(ge=0)]
NotificationId = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{24}$",
        description="24 hexadecimal digits.",
        examples=["65d1f0c2a4b3c2d1e0f9a8b7"],
    ),
]


class Shape(BaseModel):
    # Exactly these fields: a serializer that adds or drops one fails the tests.
    model_config = ConfigDict(extra="forbid")


class User(Shape):
    """The signed-in user, with an access token."""

    email: str
    token: str = Field(
        description="A JWT (HS256) access token; it expires after the server's "
        "access-token lifetime (an hour by default)."
    )
    username: str
    bio: str | None
    image: str | None


class Profile(Shape):
    """A user as others see them; ``following`` is for the caller (false without a token)."""

    username: str
    bio: str | None
    image: str | None
    following: bool


class ArticleInList(Shape):
    """An article as lists and the feed show it (without ``body``)."""

    slug: str
    title: str
    description: str
    tagList: list[str] = Field(description="Sorted.")
    createdAt: Timestamp
    updatedAt: Timestamp
    favorited: bool
    favoritesCount: Count
    author: Profile


class Article(ArticleInList):
    """One article, with its body."""

    body: str


class Comment(Shape):
    """A comment on an article."""

    id: int
    createdAt: Timestamp
    updatedAt: Timestamp
    body: str
    author: Profile


class NotifiedArticle(Shape):
    slug: str
    title: str


class Actor(Shape):
    username: str


class Notification(Shape):
    """``article_published``: an author the user follows published an article."""

    id: NotificationId
    kind: Literal["article_published"]
    read: bool
    createdAt: Timestamp
    article: NotifiedArticle
    actor: Actor


# Envelopes: the bodies the operations answer.


class UserResponse(Shape):
    """The user, with an access token."""

    user: User


class ProfileResponse(Shape):
    """A profile."""

    profile: Profile


class SingleArticleResponse(Shape):
    """One article."""

    article: Article


class MultipleArticlesResponse(Shape):
    """A page of articles and the total that match (not the page size)."""

    articles: list[ArticleInList]
    articlesCount: Count


class SingleCommentResponse(Shape):
    """One comment."""

    comment: Comment


class MultipleCommentsResponse(Shape):
    """Comments, newest first."""

    comments: list[Comment]


class TagsResponse(Shape):
    """Tags, most used first."""

    tags: list[str]


class InboxResponse(Shape):
    """A page of notifications, newest first, with the total and unread counts."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "notifications": [
                        {
                            "id": "65d1f0c2a4b3c2d1e0f9a8b7",
                            "kind": "article_published",
                            "read": False,
                            "createdAt": "2016-02-18T03:22:56.637Z",
                            "article": {
                                "slug": "how-to-train-your-dragon",
                                "title": "How to train your dragon",
                            },
                            "actor": {"username": "jake"},
                        }
                    ],
                    "notificationsCount": 1,
                    "unreadCount": 1,
                }
            ]
        }
    )

    notifications: list[Notification]
    notificationsCount: Count = Field(description="How many notifications the caller has.")
    unreadCount: Count = Field(description="How many of them are unread.")


class UnreadCountResponse(Shape):
    """The unread count after marking."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"unreadCount": 0}]})

    unreadCount: Count


class Errors(Shape):
    """Every error: each field (or thing) named with its messages, so that "field message"
    reads as a sentence."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"errors": {"title": ["can't be blank"]}}]}
    )

    errors: dict[str, list[str]]


StoreState = Literal["ok", "down"]


class Readiness(BaseModel):
    """Each store, ``ok`` or ``down``; each read replica (by its name), ``ok`` or
    ``degraded`` (its reads go to the primary meanwhile)."""

    model_config = ConfigDict(extra="allow")

    mysql: StoreState
    mongo: StoreState
    redis: StoreState


class Liveness(Shape):
    """The process answers."""

    status: Literal["ok"]


class OpenApiDocument(BaseModel):
    """The OpenAPI document."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict
    paths: dict
