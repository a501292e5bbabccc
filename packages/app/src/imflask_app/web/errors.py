"""Errors on pages are pages: the domain's errors and HTTP errors as HTML, with the status.

``imflask_core`` answers JSON for every error; the web blueprint's handlers win
for its own views, and an app-level 404/405 handler answers HTML for unknown
URLs outside ``/api`` (inside it, the same JSON body as core's).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as Redirect

from imflask_app.web.urls import safe_next
from imflask_controllers.errors import (
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from imflask_core.errors import StoreUnavailable, TransactionConflict
from imflask_core.factory import json_error

log = logging.getLogger("imflask")

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    413: "Too large",
    422: "Not possible",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}
API_PREFIX = "/api"


def error_page(status: int, message: str, **headers: str) -> Response:
    page = render_template(
        "error.html", status=status, title=TITLES.get(status, "Error"), message=message
    )
    return Response(page, status=status, headers=headers)


def _sentence(error: DomainError) -> str:
    field, messages = next(iter(error.errors.items()))
    return f"The {field} {messages[0]}."


def register_error_pages(web: Blueprint) -> None:
    """Once, when the blueprint is defined: its handlers for its own views."""

    @web.errorhandler(Unauthenticated)
    def unauthenticated(error: Unauthenticated) -> Redirect:
        # Back to this page after signing in; after a POST, to the page the form was on.
        back = request.full_path.rstrip("?") if request.method == "GET" else safe_next("")
        return redirect(url_for("web.login", next=back or None))

    @web.errorhandler(NotFound)
    def not_found(error: NotFound) -> Response:
        return error_page(404, _sentence(error))

    @web.errorhandler(Forbidden)
    def forbidden(error: Forbidden) -> Response:
        return error_page(403, _sentence(error))

    @web.errorhandler(Invalid)
    def invalid(error: Invalid) -> Response:
        return error_page(422, _sentence(error))

    @web.errorhandler(RateLimited)
    def rate_limited(error: RateLimited) -> Response:
        return error_page(429, _sentence(error), **{"Retry-After": str(error.retry_after)})

    @web.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return error_page(error.code or 500, error.description or "")

    @web.errorhandler(StoreUnavailable)
    def store_unavailable(error: StoreUnavailable) -> Response:
        log.error("store unavailable: %s %s %s", error, request.method, request.path)
        message = "A service this page needs is not answering. Please try again shortly."
        return error_page(503, message, **{"Retry-After": "5"})

    @web.errorhandler(TransactionConflict)
    def transaction_conflict(error: TransactionConflict) -> Response:
        log.warning("transaction conflict after retries: %s %s", request.method, request.path)
        return error_page(
            503, "Too many changes at once. Please try again.", **{"Retry-After": "1"}
        )

    @web.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        log.exception("unhandled error on a page: %s %s", request.method, request.path)
        return error_page(500, "The error was logged; please try again.")


def register_unknown_url_page(app: Flask) -> None:
    """Per app: unknown URLs and wrong methods are an HTML page, except under ``/api``
    (core's JSON)."""

    @app.errorhandler(404)
    def unknown_url(error: HTTPException) -> Response:
        if request.path.startswith(API_PREFIX):
            return json_error(404, {"path": ["was not found"]})
        return error_page(404, "There is no page at this address.")

    @app.errorhandler(405)
    def wrong_method(error: HTTPException) -> Response:
        allowed = getattr(error, "valid_methods", None)
        headers = {"Allow": ", ".join(allowed)} if allowed else {}
        if request.path.startswith(API_PREFIX):
            return json_error(405, {"method": ["is not allowed here"]}, **headers)
        return error_page(405, "This page cannot be used that way.", **headers)
