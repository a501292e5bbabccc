"""Slugs: readable, unicode-aware, URL-safe names made from titles."""

from __future__ import annotations

import re
import secrets
import unicodedata

MAX_SLUG_LENGTH = 200
_NOT_WORD = re.compile(r"[^\w]+")


def slugify(title: str) -> str:
    """``"Héllo, Wörld!"`` → ``"héllo-wörld"``; letters of every script are kept."""
    text = unicodedata.normalize("NFKC", title).casefold()
    slug = _NOT_WORD.sub("-", text).replace("_", "-")
    slug = re.sub(r"-{2,}", "-", slug).strip("-")[:MAX_SLUG_LENGTH].strip("-")
    return slug or "article"


def with_suffix(base: str) -> str:
    """A variant of a taken slug: ``base-3f9a1c``."""
    return f"{base[: MAX_SLUG_LENGTH - 7]}-{secrets.token_hex(3)}"
