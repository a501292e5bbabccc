"""Domain errors to HTTP: the one place that picks a status code for them."""

from __future__ import annotations

from flask import Blueprint, Response

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
    @blueprint.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Response:
        status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 422)
        headers = {}
        if isinstance(error, Unauthenticated):
            headers["WWW-Authenticate"] = "Token"
        if isinstance(error, RateLimited):
            headers["Retry-After"] = str(error.retry_after)
        if isinstance(error, Conflict):
            headers["Retry-After"] = "1"
        return json_error(status, error.errors, **headers)

    @blueprint.errorhandler(RequestInvalid)
    def request_invalid(error: RequestInvalid) -> Response:
        return json_error(422, error.errors)
