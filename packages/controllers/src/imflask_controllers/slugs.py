"""Slugs: readable, unicode-aware, URL-safe names made from titles."""

from __future__ import annotations

import re
import secrets
import unicodedata

MAX_SLUG_LENGTH = 200
_NOT_WORD = re.compile(r"[^\w]+")
# The words a route has where a slug stands (/api/articles/feed, /article/<slug>,
# /editor/<slug>): an article with one of them as its slug would be hidden behind the
# route. The API tests derive this list from the URL map, so a new route cannot collide.
ROUTE_WORDS = frozenset({"feed"})


def slugify(title: str) -> str:
    """``"Héllo, Wörld!"`` → ``"héllo-wörld"``; letters of every script are kept.

    A title that slugifies to a route word gets ``-article`` after it: ``"Feed"`` →
    ``"feed-article"``.
    """
    text = unicodedata.normalize("NFKC", title).casefold()
    slug = _NOT_WORD.sub("-", text).replace("_", "-")
    slug = re.sub(r"-{2,}", "-", slug).strip("-")[:MAX_SLUG_LENGTH].strip("-")
    slug = slug or "article"
    return f"{slug}-article" if slug in ROUTE_WORDS else slug


def with_suffix(base: str) -> str:
    """A variant of a taken slug: ``base-3f9a1c``."""
    return f"{base[: MAX_SLUG_LENGTH - 7]}-{secrets.token_hex(3)}"
