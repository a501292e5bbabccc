"""Request schemas: the shapes and limits of what clients may send."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError


def _encodable(value: str) -> str:
    """Reject lone surrogates and NULs: they cannot be stored as UTF-8 text."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("value_error", "is invalid", {"error": "is invalid"}) from None
    if "\x00" in value:
        raise PydanticCustomError("value_error", "is invalid", {"error": "is invalid"})
    return value


def _email(value: str) -> str:
    local, at, domain = value.partition("@")
    if not (at and local and "." in domain and " " not in value and "@" not in domain):
        raise PydanticCustomError("value_error", "is invalid", {"error": "is invalid"})
    return value


def _http_url(value: str) -> str:
    if value and not value.lower().startswith(("http://", "https://")):
        raise PydanticCustomError(
            "value_error", "must be an http(s) URL", {"error": "must be an http(s) URL"}
        )
    return value


def text(*, max_length: int, min_length: int = 1, strip: bool = True, pattern: str | None = None):
    return Annotated[
        str,
        StringConstraints(
            strip_whitespace=strip, min_length=min_length, max_length=max_length, pattern=pattern
        ),
        AfterValidator(_encodable),
    ]


Username = Annotated[
    text(max_length=64, pattern=r"^[\w.-]+$"),
    Field(
        description="Letters (of any script), digits, `.`, `-` and `_`; surrounding spaces "
        "are trimmed.",
        examples=["jake"],
    ),
]
Email = Annotated[
    text(max_length=254),
    AfterValidator(_email),
    Field(
        description="An address with a local part, `@` and a domain with a dot.",
        examples=["jake@jake.jake"],
    ),
]
Password = Annotated[
    text(max_length=256, min_length=8, strip=False),
    Field(
        description="Kept as sent (not trimmed); stored as an argon2id hash, never returned.",
        json_schema_extra={"format": "password"},
    ),
]
Bio = text(max_length=2000, min_length=0)
ImageUrl = Annotated[
    text(max_length=2048, min_length=0),
    AfterValidator(_http_url),
    Field(
        description="An http(s) URL (an empty string is allowed).",
        examples=["https://example.org/jake.png"],
    ),
]


class Schema(BaseModel):
    # strict: 123 is not a string; extra fields are ignored, as RealWorld clients send some.
    model_config = ConfigDict(strict=True, extra="ignore")


class NewUser(Schema):
    """The new user."""

    username: Username
    email: Email
    password: Password


class LoginUser(Schema):
    """Credentials."""

    email: text(max_length=254)
    password: Annotated[
        text(max_length=256, strip=False), Field(json_schema_extra={"format": "password"})
    ]


class UpdateUser(Schema):
    """Every field optional, at least one sent; username, email and password may not be
    null, bio and image may."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    username: Username = None  # type: ignore[assignment]
    email: Email = None  # type: ignore[assignment]
    password: Password = None  # type: ignore[assignment]
    bio: Bio | None = None
    image: ImageUrl | None = None

    def changes(self) -> dict[str, str | None]:
        """Only the fields the client sent."""
        return {field: getattr(self, field) for field in self.model_fields_set}


TagName = text(max_length=64)
MAX_TAGS = 20


def _none_as_empty(value: object) -> object:
    return [] if value is None else value


TagList = Annotated[
    list[TagName],
    Field(
        max_length=MAX_TAGS,
        description="Trimmed, de-duplicated, never empty; returned sorted.",
        examples=[["dragons", "training"]],
    ),
    BeforeValidator(_none_as_empty),
]


class NewArticle(Schema):
    """The article to publish."""

    title: text(max_length=255)
    description: text(max_length=1000)
    body: text(max_length=100_000)
    tagList: TagList = []


class UpdateArticle(Schema):
    """Every field optional and non-null, at least one sent; ``tagList`` (beyond the spec)
    replaces the tags."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    title: text(max_length=255) = None  # type: ignore[assignment]
    description: text(max_length=1000) = None  # type: ignore[assignment]
    body: text(max_length=100_000) = None  # type: ignore[assignment]
    tagList: TagList = None  # type: ignore[assignment]

    def changes(self) -> dict[str, object]:
        names = {"tagList": "tags"}
        return {names.get(f, f): getattr(self, f) for f in self.model_fields_set}


class NewComment(Schema):
    """The comment."""

    body: text(max_length=20_000)


class Page(BaseModel):
    """``limit`` and ``offset`` from the query string."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(20, ge=1, le=100, description="How many items to return.")
    offset: int = Field(0, ge=0, le=1_000_000_000, description="How many items to skip.")


Filter = text(max_length=255, min_length=0)


class ArticleQuery(Page):
    """Filters of the article list (they combine), and its page."""

    tag: Filter | None = Field(None, description="Only articles with this tag.")
    author: Filter | None = Field(None, description="Only articles by this user (username).")
    favorited: Filter | None = Field(
        None, description="Only articles this user (username) favorited."
    )


NotificationId = Annotated[
    text(max_length=24),
    Field(description="24 hexadecimal digits.", examples=["65d1f0c2a4b3c2d1e0f9a8b7"]),
]


class MarkRead(Schema):
    """Which notifications to mark read; none given: all of them."""

    ids: Annotated[list[NotificationId], Field(max_length=1000)] | None = None
