"""What a view says about itself for the OpenAPI document: each schema is written once.

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
by ``document``: 401 with auth, 413 and 422 with a body, 422 with a query, 409
with an idempotency key, 429 on a signed-in user's write (the use cases' write
limit), 503 whenever a store is touched.

``document(app)`` walks the app's URL map, so every route with an ``operation``
is in the document and nothing else is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel

from imflask_api.parsing import parse_body, parse_query, parse_raw_body

R = TypeVar("R")
V = TypeVar("V", bound=Callable[..., Any])

ATTRIBUTE = "openapi_operation"
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
