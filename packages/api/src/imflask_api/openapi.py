"""The OpenAPI 3.1 document, generated from the views: each schema is written once.

A view says what it reads and answers with decorators, in the spirit of apifairy:

    @articles.post("")
    @auth_required                                   # security Token, 401
    @idempotent                                      # Idempotency-Key, 409
    @operation("Articles", "CreateArticle", answers=(201, SingleArticleResponse))
    @body(NewArticle, "article")                     # parses it: the view gets ``data``
    def create_article(data: NewArticle): ...

``body`` and ``query`` parse the request with the pydantic model they document;
the view's docstring is the summary (first paragraph) and the description (the
rest); ``operation`` names the tag, the operationId, the success answer (a
pydantic model from ``responses``: its docstring describes it) and the errors
the use case may raise. Errors every operation of a kind can meet are added
here: 401 with auth, 413 and 422 with a body, 422 with a query, 409 with an
idempotency key, 429 on a signed-in user's write (the use cases' write limit),
503 whenever a store is touched.

``document(app)`` walks the app's URL map, so every route with an ``operation``
is in the document and nothing else is.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from flask import Flask, request
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from imflask_api import responses
from imflask_api.parsing import parse_body, parse_query, parse_raw_body

P = ParamSpec("P")
R = TypeVar("R")
V = TypeVar("V", bound=Callable[..., Any])

ATTRIBUTE = "openapi_operation"
WRITE_METHODS = {"post", "put", "delete", "patch"}
SCHEMAS = "#/components/schemas/"

TOKEN = [{"Token": []}]
TOKEN_OR_ANONYMOUS = [{"Token": []}, {}]


@dataclass
class Body:
    model: type[BaseModel]
    wrapper: str | None
    required: bool
    example: dict | None


@dataclass
class Answer:
    status: int
    model: type[BaseModel] | None
    description: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    media_type: str = "application/json"


@dataclass
class Operation:
    """What the decorators of one view say about it."""

    tag: str = ""
    operation_id: str = ""
    security: list[dict[str, list]] | None = None  # None: nobody said; then none is needed
    answers: list[Answer] = field(default_factory=list)
    errors: set[int] = field(default_factory=set)
    body: Body | None = None
    query: type[BaseModel] | None = None
    idempotent: bool = False
    root: bool = False  # served at the app's root, once, not under /api and /api/v1
    touches_stores: bool = True
    summary: str | None = None  # else the view's docstring


def operation_of(view: Callable[..., Any]) -> Operation:
    """The view's ``Operation``, shared by every wrapper ``functools.wraps`` makes of it."""
    found = getattr(view, ATTRIBUTE, None)
    if found is None:
        found = Operation()
        setattr(view, ATTRIBUTE, found)
    return found


def operation(
    tag: str,
    operation_id: str,
    *,
    answers: tuple[int, type[BaseModel] | None] | Answer | list[Answer],
    errors: Iterable[int] = (),
    security: list[dict[str, list]] | None = None,
    root: bool = False,
    touches_stores: bool = True,
    summary: str | None = None,
) -> Callable[[V], V]:
    """Document the view: its tag, operationId, success answer(s) and the errors its use
    case raises (403, 404, 422...); ``security`` overrides what the auth decorators say,
    ``summary`` the view's docstring (for a view of another package)."""

    def decorate(view: V) -> V:
        op = operation_of(view)
        op.tag, op.operation_id, op.summary = tag, operation_id, summary
        if isinstance(answers, list):
            op.answers.extend(answers)
        else:
            op.answers.append(answers if isinstance(answers, Answer) else Answer(*answers))
        op.errors |= set(errors)
        if security is not None:
            op.security = security
        op.root, op.touches_stores = root, touches_stores
        return view

    return decorate


def body(
    model: type[BaseModel],
    wrapper: str | None = None,
    *,
    required: bool = True,
    example: dict | None = None,
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Parse the JSON body (``{"<wrapper>": {...}}``, or the bare object without a wrapper)
    with ``model`` and pass it to the view as ``data``. Not ``required``: an empty body is
    ``model()``."""

    def decorate(view: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(view)
        def parsed(*args: Any, **kwargs: Any) -> R:
            if not required and not request.get_data(cache=True).strip():
                data = model()
            elif wrapper is None:
                data = parse_raw_body(model)
            else:
                data = parse_body(model, wrapper)
            return view(*args, data=data, **kwargs)

        operation_of(parsed).body = Body(model, wrapper, required, example)
        return parsed

    return decorate


def query(model: type[BaseModel]) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Parse the query string with ``model`` and pass it to the view as ``q``."""

    def decorate(view: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(view)
        def parsed(*args: Any, **kwargs: Any) -> R:
            return view(*args, q=parse_query(model), **kwargs)

        operation_of(parsed).query = model
        return parsed

    return decorate


def secured(view: V, security: list[dict[str, list]]) -> V:
    """For the auth decorators: the view's security requirement (unless ``operation``
    named one) and its 401."""
    op = operation_of(view)
    if op.security is None:
        op.security = security
    op.errors.add(401)
    return view


def keyed(view: V) -> V:
    """For ``idempotent``: the view takes an ``Idempotency-Key`` (and may answer 409 or 422)."""
    op = operation_of(view)
    op.idempotent = True
    op.errors |= {409, 422}
    return view


# --- the document ----------------------------------------------------------------------


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
user). Every response carries an `X-Request-ID` header (a well-formed incoming one is kept).

This document is generated from the code (`imflask_api/openapi.py`): the request and
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

RETRY_AFTER = {"$ref": "#/components/headers/RetryAfter"}
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
        "per user).",
        {"requests": ["are too many, retry in 42 seconds"]},
        {"Retry-After": RETRY_AFTER},
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
FLASK_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")

SET_COOKIE = {
    "Set-Cookie": {
        "description": "`refresh_token=...; HttpOnly; SameSite=Lax; Path=/api/auth` (or "
        "`/api/v1/auth`), `Secure` in production.",
        "schema": {"type": "string"},
    }
}


class _Generator(GenerateJsonSchema):
    """pydantic's JSON Schema, without a title on every property (the name says it)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


@dataclass(frozen=True)
class Route:
    path: str  # OpenAPI form, relative to its servers: /articles/{slug}
    method: str
    view: Callable[..., Any]


def document(app: Flask, extra: Iterable[Route] = ()) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every documented route of ``app`` (and ``extra``)."""
    routes = [*_routes(app), *extra]
    models = _models([operation_of(route.view) for route in routes])
    _, definitions = models_json_schema(
        [(model, mode) for model, mode in models],
        ref_template=SCHEMAS + "{model}",
        schema_generator=_Generator,
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        op = operation_of(route.view)
        item = paths.setdefault(route.path, {})
        if op.root:
            item["servers"] = ROOT_SERVERS
        item[route.method] = _operation_object(route, op)
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "tags": TAGS,
        "servers": SERVERS,
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "responses": {
                name: _error_response(description, example, headers)
                for name, description, example, headers in ERROR_RESPONSES.values()
            },
            "headers": {
                "RetryAfter": {
                    "description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer", "minimum": 0},
                }
            },
            "parameters": {"IdempotencyKey": IDEMPOTENCY_KEY},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def _routes(app: Flask) -> list[Route]:
    """Each documented (path, method) once: ``/api/v1`` repeats ``/api`` (the servers)."""
    found: dict[tuple[str, str], Route] = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        op = getattr(view, ATTRIBUTE, None)
        if op is None or not op.operation_id:
            continue
        if op.root:
            path = rule.rule
        elif rule.rule.startswith("/api/") and not rule.rule.startswith("/api/v1/"):
            path = rule.rule.removeprefix("/api")
        else:
            continue
        path = FLASK_VARIABLE.sub(r"{\1}", path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.setdefault((path, method.lower()), Route(path, method.lower(), view))
    return list(found.values())


def _models(ops: list[Operation]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    models: dict[type[BaseModel], JsonSchemaMode] = {responses.Errors: "serialization"}
    for op in ops:
        if op.body is not None:
            models[op.body.model] = "validation"
        for answer in op.answers:
            if answer.model is not None:
                models[answer.model] = "serialization"
    return list(models.items())


def _operation_object(route: Route, op: Operation) -> dict[str, Any]:
    doc = op.summary or inspect.getdoc(route.view) or ""
    summary, _, description = doc.partition("\n\n")
    result: dict[str, Any] = {
        "tags": [op.tag],
        "summary": " ".join(summary.split()),
        "operationId": op.operation_id,
        "security": op.security if op.security is not None else [],
    }
    if description.strip():
        result["description"] = description.strip()
    parameters = _parameters(route.path, op)
    if parameters:
        result["parameters"] = parameters
    if op.body is not None:
        result["requestBody"] = _request_body(op.body)
    result["responses"] = _responses(route.method, op)
    return result


def _parameters(path: str, op: Operation) -> list[dict[str, Any]]:
    parameters = []
    for name in re.findall(r"\{([^{}]+)\}", path):
        description, schema = PATH_VARIABLES.get(name, ("", {"type": "string"}))
        parameters.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": description,
                "schema": schema,
            }
        )
    if op.query is not None:
        shape = op.query.model_json_schema(schema_generator=_Generator)
        for name, schema in shape["properties"].items():
            schema = dict(schema)
            description = schema.pop("description", None)
            variants = [v for v in schema.pop("anyOf", []) if v.get("type") != "null"]
            if variants:  # ``str | None``: in a query string, left out is the None
                schema.update(variants[0])
            if schema.get("default", 0) is None:
                del schema["default"]
            parameter = {"name": name, "in": "query", "required": name in shape.get("required", [])}
            if description:
                parameter["description"] = description
            parameters.append({**parameter, "schema": schema})
    if op.idempotent:
        parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
    return parameters


def _request_body(spec: Body) -> dict[str, Any]:
    ref = {"$ref": SCHEMAS + spec.model.__name__}
    schema = (
        ref
        if spec.wrapper is None
        else {"type": "object", "required": [spec.wrapper], "properties": {spec.wrapper: ref}}
    )
    content: dict[str, Any] = {"schema": schema}
    if spec.example is not None:
        content["example"] = spec.example
    result: dict[str, Any] = {"required": spec.required, "content": {"application/json": content}}
    description = inspect.getdoc(spec.model)
    if description and spec.model.__doc__:
        result["description"] = description
    return result


def _responses(method: str, op: Operation) -> dict[str, Any]:
    errors = set(op.errors)
    if op.body is not None:
        errors |= {413, 422}
    if op.query is not None:
        errors.add(422)
    if method in WRITE_METHODS and op.security == TOKEN:
        errors.add(429)  # every write use case is write-limited (limits.write_limited)
    if op.touches_stores:
        errors.add(503)
    answered = {answer.status: _answer(answer) for answer in op.answers}
    for status in sorted(errors - set(answered)):
        answered[status] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"}
    return {str(status): answered[status] for status in sorted(answered)}


def _answer(answer: Answer) -> dict[str, Any]:
    description = answer.description
    if description is None and answer.model is not None and answer.model.__doc__:
        description = inspect.getdoc(answer.model)
    result: dict[str, Any] = {"description": description or "Done; no body."}
    if answer.headers:
        result["headers"] = answer.headers
    if answer.media_type != "application/json":
        result["content"] = {answer.media_type: {"schema": {"type": "string"}}}
    elif answer.model is not None:
        result["content"] = {
            "application/json": {"schema": {"$ref": SCHEMAS + answer.model.__name__}}
        }
    return result


def _error_response(
    description: str, example: dict[str, list[str]], headers: dict[str, Any]
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": SCHEMAS + "Errors"},
                "example": {"errors": example},
            }
        },
    }
    if headers:
        result["headers"] = headers
    return result
