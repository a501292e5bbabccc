"""Markdown to safe HTML, and the small filters templates use.

Markdown is rendered by markdown-it-py with raw HTML off (it is shown as
text), then the HTML goes through nh3 (ammonia) with a strict allow-list: no
``on*`` or ``style`` attributes, links only to http, https and mailto (or
relative), and every link gets ``rel="noopener noreferrer nofollow"``. The
sanitised string is the only thing the templates mark safe.
"""

from __future__ import annotations

from datetime import datetime

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])

ALLOWED_TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "img", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th",
        "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
DEFAULT_AVATAR = "icons/avatar.svg"


# A code block can be wider than a phone: it scrolls, so a keyboard must be able to reach it
# (WCAG 2.1.1) and it needs a name. nh3's output has no attributes on <pre> (none are
# allowed), and user text "<pre>" is escaped, so this exact tag is only ever the element.
PRE = "<pre>"
FOCUSABLE_PRE = '<pre tabindex="0" role="group" aria-label="Code example">'


def render_markdown(text: str | None, *, heading_offset: int = 0) -> Markup:
    """An article body as sanitised HTML; headings ``heading_offset`` levels down (at most
    h6), so that the page's own title stays its only h1."""
    tokens = _markdown.parse(text or "")
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1]) + heading_offset)}"
    html = _markdown.renderer.render(tokens, _markdown.options, {})
    return Markup(  # noqa: S704 - nh3 has just removed everything outside the allow-list
        nh3.clean(
            html,
            tags=set(ALLOWED_TAGS),
            attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
            url_schemes=set(URL_SCHEMES),
            link_rel=LINK_REL,
            strip_comments=True,
        )
    )


def render_article_body(text: str | None) -> Markup:
    """An article body on its page: headings from h2 (the title is the h1), and code blocks
    that a keyboard can scroll."""
    html = str(render_markdown(text, heading_offset=1))
    return Markup(html.replace(PRE, FOCUSABLE_PRE))  # noqa: S704 - sanitised above


def display_date(value: datetime) -> str:
    """``January 20, 2026``, as Conduit shows dates."""
    return f"{value:%B} {value.day}, {value.year}"


def image_url(value: str | None) -> str | None:
    """A user's picture URL when it is http(s); None otherwise (the default avatar is shown)."""
    if value and value.lower().startswith(("https://", "http://")):
        return value
    return None
