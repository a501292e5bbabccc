"""The document's fixed parts: its info, tags, servers, security schemes and error answers."""

from __future__ import annotations

from typing import Any

INFO = {
    "title": "IMFlask Conduit API",
    "version": "1.0.0",
    "summary": 'The RealWorld "Conduit" API as IMFlask serves it, with its auth extras, '
    "notifications and health checks.",
    "description": """\
Every operation answers JSON. Errors always have the shape
`{"errors": {"<field>": ["<message>"]}}`, so that "field message" reads as a sentence
(`{"title": ["can't be blank"]}`, `{"article": ["not found"]}`). Unknown fields in a body
are ignored; a missing wrapper object (`{"article": ...}`) is 422 naming it; a body that is
not JSON is 422 on `body`; a body over the server's limit (1 MiB by default) is 413.

The RealWorld operations are served under `/api` (the RealWorld contract) and, identically,
under `/api/v1`: pick either server. Health checks and this document live outside them.

Send the access token as `Authorization: Token <jwt>` (RealWorld) or
`Authorization: Bearer <jwt>`. Registration and login also set a `refresh_token` cookie
(HttpOnly, SameSite=Lax, path `/api/auth` or `/api/v1/auth`) that `POST /auth/refresh`
trades for a new access token.

Lists take `limit` 1-100 (default 20) and `offset` >= 0 (default 0); anything else is 422.
Timestamps are ISO 8601 UTC with milliseconds (`2016-02-18T03:22:56.637Z`). A request that
needs a store that does not answer gets 503 with `Retry-After`; over a rate limit, 429 with
`Retry-After` (logins and registrations per client address and account, every write per
user; an address that signed in to an account before is not counted per account). A 429,
and every other answer a limit counted while Redis answered, carries `RateLimit-Limit`,
`RateLimit-Remaining`, `RateLimit-Reset` and `RateLimit-Policy` (IETF
draft-ietf-httpapi-ratelimit-headers-07; see the 429 answer); the limits are sliding
windows. Every response carries an `X-Request-ID` header (a well-formed incoming
one is kept).

This document is generated from the code (`imflask_api/openapi/`): the request and
response schemas are the pydantic models the views parse with and the tests check answers
against.

Based on the RealWorld Conduit API specification (`openapi.yml` of the RealWorld project,
<https://github.com/gothinkster/realworld>), MIT License, Copyright (c) 2021 Thinkster and
Copyright (c) 2026 c4ffein. Changes: IMFlask's status codes, limits, error shapes and
extra operations.
""",
    "license": {"name": "MIT License", "identifier": "MIT"},
}

TAGS = [
    {"name": "User and Authentication"},
    {"name": "Profile"},
    {"name": "Articles"},
    {"name": "Favorites"},
    {"name": "Comments"},
    {"name": "Tags"},
    {
        "name": "Sessions",
        "description": "Beyond RealWorld - the refresh-token cookie and logging out.",
    },
    {
        "name": "Notifications",
        "description": "Beyond RealWorld - each user's inbox of new articles by the authors "
        "they follow.",
    },
    {"name": "Health"},
    {"name": "Documentation"},
]

SERVERS = [
    {"url": "/api", "description": "The RealWorld contract"},
    {"url": "/api/v1", "description": "The same operations, versioned"},
]
ROOT_SERVERS = [{"url": "/", "description": "The application's root (not under /api/v1)"}]

SECURITY_SCHEMES = {
    "Token": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "The access token (a JWT) from registering, logging in or refreshing, "
        "in the `Authorization` header as `Token <jwt>` (RealWorld's scheme); `Bearer <jwt>` "
        "is accepted too. Any other form is 401. In this page, enter the whole value, e.g. "
        "`Token eyJhbGciOi...`.",
    },
    "RefreshCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "refresh_token",
        "description": "The HttpOnly refresh-token cookie that registration, login and refresh "
        "set; the browser sends it by itself.",
    },
}

# components/headers: Retry-After, and the rate-limit headers of
# draft-ietf-httpapi-ratelimit-headers-07 (imflask_api.errors.rate_limit_headers).
HEADERS: dict[str, dict[str, Any]] = {
    "RetryAfter": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimitLimit": {
        "description": "The requests the limit lets through per window (the tightest limit "
        "this request counted against: per client address or per account for logins and "
        "registrations, per user for writes).",
        "schema": {"type": "integer", "minimum": 1},
    },
    "RateLimitRemaining": {
        "description": "The requests left in the window after this one.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimitReset": {
        "description": "Seconds until the oldest request counted leaves the window, freeing "
        "one request (the window slides: it is not a fixed period). Equals `Retry-After` on "
        "a 429.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "RateLimitPolicy": {
        "description": "The limit as `<requests>;w=<window seconds>`, e.g. `10;w=60`: at most "
        "that many in any interval of that length.",
        "schema": {"type": "string", "pattern": r"^[0-9]+;w=[0-9]+$"},
    },
}
RETRY_AFTER = {"$ref": "#/components/headers/RetryAfter"}
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": {"$ref": "#/components/headers/RateLimitLimit"},
    "RateLimit-Remaining": {"$ref": "#/components/headers/RateLimitRemaining"},
    "RateLimit-Reset": {"$ref": "#/components/headers/RateLimitReset"},
    "RateLimit-Policy": {"$ref": "#/components/headers/RateLimitPolicy"},
}
# status -> (component name, description, example errors, headers)
ERROR_RESPONSES: dict[int, tuple[str, str, dict[str, list[str]], dict[str, Any]]] = {
    401: (
        "Unauthorized",
        "No token where one is required, or a token (or refresh cookie, or credentials) that "
        "is invalid, expired or revoked.",
        {"token": ["is missing"]},
        {"WWW-Authenticate": {"schema": {"type": "string", "const": "Token"}}},
    ),
    403: (
        "Forbidden",
        "The caller may not do this (only an article's author updates or deletes it; only a "
        "comment's author deletes it).",
        {"article": ["can only be deleted by its author"]},
        {},
    ),
    404: ("NotFound", "An unknown slug, username or comment id.", {"article": ["not found"]}, {}),
    409: (
        "IdempotencyConflict",
        "Other requests with this Idempotency-Key kept taking it; retry shortly.",
        {"Idempotency-Key": ["is in use by another request; retry shortly"]},
        {"Retry-After": RETRY_AFTER},
    ),
    413: (
        "PayloadTooLarge",
        "The body is over the server's limit (1 MiB by default).",
        {"body": ["is too large (maximum is 1048576 bytes)"]},
        {},
    ),
    422: (
        "UnprocessableEntity",
        "Invalid input, each field named.",
        {"title": ["can't be blank"]},
        {},
    ),
    429: (
        "TooManyRequests",
        "Over a rate limit (logins and registrations per client address and account; writes "
        "per user). The limits slide: at most `RateLimit-Limit` requests in any interval of "
        "the policy's window.",
        {"requests": ["are too many, retry in 42 seconds"]},
        {"Retry-After": RETRY_AFTER, **RATE_LIMIT_HEADERS},
    ),
    503: (
        "ServiceUnavailable",
        "A store the request needs does not answer; retry shortly.",
        {"mysql": ["is unavailable, try again shortly"]},
        {"Retry-After": RETRY_AFTER},
    ),
}

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Send a retried request with the key of the first one (1 to 255 visible "
    "ASCII characters, e.g. a UUID) to get the first answer back instead of a second write; "
    "a replay carries `Idempotent-Replayed: true`. Keys last 24 hours and belong to the "
    "signed-in user (or to anonymous callers), the method and the path; the same key with "
    "another body is 422; a retry while the first runs waits for its answer.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[\x21-\x7e]+$"},
}

# Flask path variables: their description and schema.
PATH_VARIABLES: dict[str, tuple[str, dict[str, Any]]] = {
    "username": ("The user's username.", {"type": "string"}),
    "slug": ("The article's slug.", {"type": "string"}),
    "comment_id": (
        "Id of the comment; an unknown or non-numeric one is 404.",
        {"type": "integer", "minimum": 0},
    ),
}
SET_COOKIE = {
    "Set-Cookie": {
        "description": "`refresh_token=...; HttpOnly; SameSite=Lax; Path=/api/auth` (or "
        "`/api/v1/auth`), `Secure` in production.",
        "schema": {"type": "string"},
    }
}
