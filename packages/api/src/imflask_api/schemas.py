"""Request schemas: the shapes and limits of what clients may send."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, TypedDict

from annotated_types import GroupedMetadata
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


@dataclass(frozen=True)
class Text(GroupedMetadata):
    """A text field's limits, as ``Annotated`` metadata: ``Annotated[str, Text(max_length=64)]``.

    Stripped (unless ``strip=False``), between ``min_length`` and ``max_length``
    characters, matching ``pattern`` if given, and storable as UTF-8 text.
    """

    max_length: int
    min_length: int = 1
    strip: bool = True
    pattern: str | None = None

    def __iter__(self) -> Iterator[object]:
        yield from StringConstraints(
            strip_whitespace=self.strip,
            min_length=self.min_length,
            max_length=self.max_length,
            pattern=self.pattern,
        )
        # The document's maxLength counts the string as sent, so the limit holds before the
        # trim too (a validator added after the constraints runs before them).
        yield BeforeValidator(functools.partial(_at_most, self.max_length))
        yield AfterValidator(_encodable)


def _at_most(max_length: int, value: object) -> object:
    if isinstance(value, str) and len(value) > max_length:
        raise PydanticCustomError(
            "string_too_long",
            "String should have at most {max_length} characters",
            {"max_length": max_length},
        )
    return value


Username = Annotated[
    Annotated[str, Text(max_length=64, pattern=r"^[\w.-]+$")],
    Field(
        description="Letters (of any script), digits, `.`, `-` and `_`; surrounding spaces "
        "are trimmed.",
        examples=["jake"],
    ),
]
Email = Annotated[
    Annotated[str, Text(max_length=254)],
    AfterValidator(_email),
    Field(
        description="An address with a local part, `@` and a domain with a dot.",
        examples=["jake@jake.jake"],
    ),
]
Password = Annotated[
    Annotated[str, Text(max_length=256, min_length=8, strip=False)],
    Field(
        description="Kept as sent (not trimmed); stored as an argon2id hash, never returned.",
        json_schema_extra={"format": "password"},
    ),
]
Bio = Annotated[str, Text(max_length=2000, min_length=0)]
ImageUrl = Annotated[
    Annotated[str, Text(max_length=2048, min_length=0)],
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

    email: Annotated[str, Text(max_length=254)]
    password: Annotated[
        Annotated[str, Text(max_length=256, strip=False)],
        Field(json_schema_extra={"format": "password"}),
    ]


class UpdateUser(Schema):
    """Every field optional, at least one sent; username, email and password may not be
    null, bio and image may."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    username: Username = None  # pyright: ignore[reportAssignmentType] -- None only when not sent: changes() skips it
    email: Email = None  # pyright: ignore[reportAssignmentType] -- None only when not sent: changes() skips it
    password: Password = None  # pyright: ignore[reportAssignmentType] -- None only when not sent: changes() skips it
    bio: Bio | None = None
    image: ImageUrl | None = None

    def changes(self) -> dict[str, str | None]:
        """Only the fields the client sent."""
        return {field: getattr(self, field) for field in self.model_fields_set}


TagName = Annotated[str, Text(max_length=64)]
MAX_TAGS = 20


def _none_as_empty(value: object) -> object:
    return [] if value is None else value


TagList = Annotated[
    list[TagName],
    Field(
        max_length=MAX_TAGS,
        description="Trimmed, de-duplicated, never empty; returned sorted. null is no tags.",
        examples=[["dragons", "training"]],
        json_schema_extra={"type": ["array", "null"]},  # what _none_as_empty takes
    ),
    BeforeValidator(_none_as_empty),
]


class NewArticle(Schema):
    """The article to publish."""

    title: Annotated[str, Text(max_length=255)]
    description: Annotated[str, Text(max_length=1000)]
    body: Annotated[str, Text(max_length=100_000)]
    tagList: TagList = []


class UpdateArticle(Schema):
    """Every field optional and non-null (but ``tagList``, where null is no tags), at least
    one sent; ``tagList`` (beyond the spec) replaces the tags."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    title: Annotated[str, Text(max_length=255)] = None  # pyright: ignore[reportAssignmentType] -- None only when not sent: changes() skips it
    description: Annotated[str, Text(max_length=1000)] = None  # pyright: ignore[reportAssignmentType] -- None only when not sent: changes() skips it
    body: Annotated[str, Text(max_length=100_000)] = None  # pyright: ignore[reportAssignmentType] -- None only when not sent: changes() skips it
    tagList: TagList = None  # pyright: ignore[reportAssignmentType] -- None only when not sent: changes() skips it

    def changes(self) -> ArticleChanges:
        """Only the fields the client sent, named as ``update_article`` takes them."""
        names = {"tagList": "tags"}
        return ArticleChanges(**{names.get(f, f): getattr(self, f) for f in self.model_fields_set})


class ArticleChanges(TypedDict, total=False):
    title: str
    description: str
    body: str
    tags: list[str]


class NewComment(Schema):
    """The comment."""

    body: Annotated[str, Text(max_length=20_000)]


class Page(BaseModel):
    """``limit`` and ``offset`` from the query string."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(20, ge=1, le=100, description="How many items to return.")
    offset: int = Field(0, ge=0, le=1_000_000_000, description="How many items to skip.")


Filter = Annotated[str, Text(max_length=255, min_length=0)]


class ArticleQuery(Page):
    """Filters of the article list (they combine), and its page."""

    tag: Filter | None = Field(None, description="Only articles with this tag.")
    author: Filter | None = Field(None, description="Only articles by this user (username).")
    favorited: Filter | None = Field(
        None, description="Only articles this user (username) favorited."
    )


NotificationId = Annotated[
    Annotated[str, Text(max_length=24)],
    Field(description="24 hexadecimal digits.", examples=["65d1f0c2a4b3c2d1e0f9a8b7"]),
]


class MarkRead(Schema):
    """Which notifications to mark read; none given: all of them."""

    ids: Annotated[list[NotificationId], Field(max_length=1000)] | None = None
