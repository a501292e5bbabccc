"""The controllers' types that every use case shares (each area's own live in its module:
``articles.Article``, ``profiles.Profile``, ...). Imports nothing of the package, so any
module can use them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    """A signed-in user as every use case takes them: never with their password hash."""

    id: int
    username: str
    email: str
    bio: str | None
    image: str | None
