"""Who is calling: the ``Authorization`` header and the client's address, for views.

Rate limits are the use cases' own (``imflask_controllers.limits``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import g, request

from imflask_api.deps import context
from imflask_api.openapi import TOKEN, TOKEN_OR_ANONYMOUS, secured
from imflask_controllers import users
from imflask_controllers.errors import Unauthenticated
from imflask_controllers.users import Identity, User

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
        g.identity = users.authenticate(context(), token)
        g.user_id = g.identity.user.id  # for the request log line
        return view(*args, **kwargs)

    return secured(wrapper, TOKEN)


def auth_optional(view: Callable[P, R]) -> Callable[P, R]:
    """The view serves anyone; a token, when sent, must be valid."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _token_from_header()
        g.identity = None if token is None else users.authenticate(context(), token)
        g.user_id = g.identity.user.id if g.identity else None
        return view(*args, **kwargs)

    return secured(wrapper, TOKEN_OR_ANONYMOUS)


def current_user() -> User | None:
    """The signed-in user, or None on an anonymous request."""
    identity = current_identity()
    return None if identity is None else identity.user


def require_user() -> User:
    """The signed-in user of an ``auth_required`` view."""
    return require_identity().user


def current_identity() -> Identity | None:
    """The signed-in user with the token they sent and its claims, or None."""
    return g.get("identity")


def require_identity() -> Identity:
    """The identity of an ``auth_required`` view; ``Unauthenticated`` if there is none."""
    identity = current_identity()
    if identity is None:
        raise Unauthenticated("token", "is missing")
    return identity


def client_ip() -> str:
    """The caller's address (behind ``FLASK_PROXY_HOPS`` trusted proxies, the forwarded one)."""
    return request.remote_addr or "unknown"


def _token_from_header() -> str | None:
    header = request.headers.get("Authorization", "").strip()
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in SCHEMES or not token.strip():
        raise Unauthenticated("authorization", "must be 'Token <jwt>' or 'Bearer <jwt>'")
    return token.strip()
