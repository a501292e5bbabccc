"""The refresh-token cookie: HttpOnly, SameSite=Lax, Secure in production, auth path only."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request, url_for

from imflask_api.deps import context

REFRESH_COOKIE = "refresh_token"


def refresh_cookie_path() -> str:
    """``/api/auth`` or ``/api/v1/auth``: whichever prefix the client is using."""
    refresh_url = url_for(f"{request.blueprints[-1]}.sessions.refresh")
    return refresh_url.rsplit("/", 1)[0]


def with_refresh_cookie(body: dict[str, Any], status: int, token: str | None) -> Response:
    response = jsonify(body)
    response.status_code = status
    if token is not None:
        settings = context().settings
        response.set_cookie(
            REFRESH_COOKIE,
            token,
            max_age=settings.refresh_token_ttl,
            path=refresh_cookie_path(),
            httponly=True,
            secure=settings.is_production,
            samesite="Lax",
        )
    return response


def without_refresh_cookie(response: Response) -> Response:
    settings = context().settings
    response.delete_cookie(
        REFRESH_COOKIE,
        path=refresh_cookie_path(),
        httponly=True,
        secure=settings.is_production,
        samesite="Lax",
    )
    return response


def refresh_token_from_cookie() -> str | None:
    return request.cookies.get(REFRESH_COOKIE) or None
