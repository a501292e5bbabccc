"""Request schemas: the shapes and limits of what clients may send."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
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


Username = text(max_length=64, pattern=r"^[\w.-]+$")
Email = Annotated[text(max_length=254), AfterValidator(_email)]
Password = text(max_length=256, min_length=8, strip=False)
Bio = text(max_length=2000, min_length=0)
ImageUrl = Annotated[text(max_length=2048, min_length=0), AfterValidator(_http_url)]


class Schema(BaseModel):
    # strict: 123 is not a string; extra fields are ignored, as RealWorld clients send some.
    model_config = ConfigDict(strict=True, extra="ignore")


class NewUser(Schema):
    username: Username
    email: Email
    password: Password


class LoginUser(Schema):
    email: text(max_length=254)
    password: text(max_length=256, strip=False)


class UpdateUser(Schema):
    """Every field optional; username, email and password may not be null, bio and image may."""

    username: Username = None  # type: ignore[assignment]
    email: Email = None  # type: ignore[assignment]
    password: Password = None  # type: ignore[assignment]
    bio: Bio | None = None
    image: ImageUrl | None = None

    def changes(self) -> dict[str, str | None]:
        """Only the fields the client sent."""
        return {field: getattr(self, field) for field in self.model_fields_set}
