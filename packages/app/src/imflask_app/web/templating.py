"""What every page template can use: the signed-in user, the CSRF field, filters, and
the security headers of every page."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, request, url_for
from markupsafe import Markup, escape

from imflask_app.web import csrf
from imflask_app.web.blueprint import web
from imflask_app.web.rendering import display_date, image_url, render_article_body
from imflask_app.web.session import current_user
from imflask_controllers.users import User

# Pages load only their own scripts, styles, fonts; pictures may come from anywhere.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' https: http: data:",
        "script-src 'self'",
        "style-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


@web.app_context_processor
def page_globals() -> dict[str, Callable[[], User | None]]:
    return {"current_user": current_user}


@web.app_template_global()
def csrf_field() -> Markup:
    """The hidden input every state-changing form carries (the token masked afresh)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        csrf.FIELD, escape(csrf.masked_token())
    )


@web.app_template_global()
def csrf_token() -> str:
    return csrf.masked_token()


@web.app_template_global()
def page_url(number: int) -> str:
    """This page's URL with ``?page=number``, keeping the other query arguments."""
    args = {**request.args.to_dict(), "page": number}
    if number == 1:
        args.pop("page")
    return url_for(request.endpoint or "web.home", **(request.view_args or {}), **args)


SUMMARY_LENGTH = 160  # about what a search result shows under a page's title
DEFAULT_SUMMARY = (
    "Conduit, a place to share your knowledge: articles by its writers, by tag and by feed."
)


@web.app_template_filter("summary")
def summary(text: str | None) -> str:
    """A page's meta description: ``text`` on one line, cut at a word to fit; else the site's."""
    words = " ".join((text or "").split())
    if not words:
        return DEFAULT_SUMMARY
    if len(words) <= SUMMARY_LENGTH:
        return words
    cut = words[: SUMMARY_LENGTH - 3].rsplit(" ", 1)[0] if " " in words else words
    return cut[: SUMMARY_LENGTH - 3] + "..."


@web.app_template_filter("avatar")
def avatar(value: str | None) -> str:
    return image_url(value) or url_for("static", filename="icons/avatar.svg")


web.add_app_template_filter(render_article_body, "markdown")
web.add_app_template_filter(display_date, "date")


@web.after_app_request
def html_security_policy(response: Response) -> Response:
    """Every HTML answer of the app carries the pages' policy, not only the web blueprint's:
    redirects, the site-wide 404 and 405 pages, error pages of any status and blueprint.
    A view's own policy (the API docs page's, say) is kept."""
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


@web.after_request
def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
