"""Who is calling: the ``Authorization`` header to the signed-in user, for views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from flask import g, request

from imflask_api.deps import context
from imflask_controllers import users
from imflask_controllers.errors import Unauthenticated

P = ParamSpec("P")
R = TypeVar("R")

# RealWorld sends "Token <jwt>"; most other clients send "Bearer <jwt>".
SCHEMES = ("token", "bearer")


def auth_required(view: Callable[P, R]) -> Callable[P, R]:
    """The view needs a signed-in user: 401 without a valid access token."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _token_from_header()
        if token is None:
            raise Unauthenticated("token", "is missing")
        _sign_in(token)
        return view(*args, **kwargs)

    return wrapper


def auth_optional(view: Callable[P, R]) -> Callable[P, R]:
    """The view serves anyone; a token, when sent, must be valid."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _token_from_header()
        g.current_user = None
        if token is not None:
            _sign_in(token)
        return view(*args, **kwargs)

    return wrapper


def current_user() -> Any:
    """The signed-in user (a ``UserRow``), or None on an anonymous request."""
    return g.get("current_user")


def current_token() -> str:
    return g.current_token


def _sign_in(token: str) -> None:
    g.current_user = users.authenticate(context(), token)
    g.current_token = token


def _token_from_header() -> str | None:
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in SCHEMES or not token.strip():
        raise Unauthenticated("authorization", "must be 'Token <jwt>' or 'Bearer <jwt>'")
    return token.strip()
