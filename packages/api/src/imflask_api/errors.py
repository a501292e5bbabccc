"""Domain errors to HTTP: the one place that picks a status code for them."""

from __future__ import annotations

from flask import Blueprint, Response

from imflask_controllers import limits
from imflask_controllers.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from imflask_core.factory import json_error

STATUS = {
    Invalid: 422,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
}


class RequestInvalid(Exception):
    """The request's shape is wrong: not JSON, missing wrapper, bad field types."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(str(errors))


def register_error_handlers(blueprint: Blueprint) -> None:
    register_rate_limit_headers(blueprint)

    @blueprint.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Response:
        status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 422)
        headers = {}
        if isinstance(error, Unauthenticated):
            headers["WWW-Authenticate"] = "Token"
        if isinstance(error, RateLimited):
            headers["Retry-After"] = str(error.retry_after)  # rate_limit_headers adds the rest
        if isinstance(error, Conflict):
            headers["Retry-After"] = "1"
        return json_error(status, error.errors, **headers)

    @blueprint.errorhandler(RequestInvalid)
    def request_invalid(error: RequestInvalid) -> Response:
        return json_error(422, error.errors)


def register_rate_limit_headers(blueprint: Blueprint) -> None:
    """Every answer of ``blueprint`` that a rate limit counted carries its ``RateLimit-*``
    headers (the API's and the pages')."""
    blueprint.before_request(limits.start_request)
    blueprint.after_request(rate_limit_headers)


def rate_limit_headers(response: Response) -> Response:
    """``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` (seconds until
    the oldest counted request leaves the window), as the IETF draft
    draft-ietf-httpapi-ratelimit-headers-07 names them, and ``RateLimit-Policy``
    (``10;w=60``); plus ``Retry-After`` on a refusal. Of the tightest limit counted."""
    verdict = limits.reported()
    limits.start_request()  # a thread's next request starts clean even if a hook fails
    if verdict is None:
        return response
    response.headers["RateLimit-Limit"] = str(verdict.limit)
    response.headers["RateLimit-Remaining"] = str(verdict.remaining)
    response.headers["RateLimit-Reset"] = str(verdict.reset)
    response.headers["RateLimit-Policy"] = f"{verdict.limit};w={verdict.window}"
    if not verdict.allowed:
        response.headers["Retry-After"] = str(verdict.retry_after)
    return response
