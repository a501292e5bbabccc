"""Form input: the API's pydantic schemas read from ``request.form``, and the decorator
that turns a form's errors into the same page re-rendered with them.

Field names in forms are the schemas' names, except ``tags`` (``tagList``): a
comma-separated text field.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import render_template, request
from pydantic import BaseModel, ValidationError

from imflask_api.parsing import field_errors
from imflask_api.schemas import LoginUser, NewComment, NewUser, UpdateUser
from imflask_controllers.errors import DomainError, Invalid, RateLimited

M = TypeVar("M", bound=BaseModel)
FORM_NAMES = {"tagList": "tags", "current password": "current_password"}  # error -> form field


class FormInvalid(Exception):
    """The form's input breaks the schema; ``errors`` name the form's fields."""

    def __init__(self, errors: Mapping[str, list[str]]):
        self.errors = dict(errors)
        super().__init__(str(self.errors))


def form_view(
    template: str,
    *,
    context: Callable[..., Mapping[str, Any]] | None = None,
    also: tuple[type[DomainError], ...] = (),
):
    """On invalid input (the schema's or a controller's ``Invalid``, and ``also``), render
    ``template`` again with the user's input (``form``) and ``errors`` next to the fields:
    422, or 429 when rate limited. ``context(**view_args)`` adds what else the page shows.
    """
    handled = (FormInvalid, Invalid, RateLimited, *also)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(**view_args: Any) -> Any:
            try:
                return view(**view_args)
            except handled as error:
                errors = {FORM_NAMES.get(k, k): v for k, v in error.errors.items()}
                extra = context(**view_args) if context else {}
                page = render_template(template, form=submitted(), errors=errors, **extra)
                if isinstance(error, RateLimited):
                    return page, 429, {"Retry-After": str(error.retry_after)}
                return page, 422

        return wrapper

    return decorate


def submitted() -> dict[str, str]:
    """What the user typed, to fill the form again; never their password."""
    return {k: v for k, v in request.form.items() if k not in {"password", "csrf_token"}}


def validate(schema: type[M], values: Mapping[str, Any]) -> M:
    try:
        return schema.model_validate(dict(values))
    except ValidationError as error:
        raise FormInvalid(field_errors(error)) from None


def _fields(*names: str) -> dict[str, str]:
    return {name: request.form.get(name, "") for name in names}


def sign_up_form() -> NewUser:
    return validate(NewUser, _fields("username", "email", "password"))


def sign_in_form() -> LoginUser:
    return validate(LoginUser, _fields("email", "password"))


def settings_form() -> UpdateUser:
    """Every field but the password is sent; an empty password means "keep it", an empty
    picture or bio clears it."""
    values: dict[str, Any] = _fields("username", "email")
    for optional in ("image", "bio"):
        values[optional] = request.form.get(optional, "").strip() or None
    if request.form.get("password"):
        values["password"] = request.form["password"]
    return validate(UpdateUser, values)


def current_password() -> str:
    """What the settings form sent as the current password ("" when left empty)."""
    return request.form.get("current_password", "")


def article_form(schema: type[M]) -> M:
    """``NewArticle`` or ``UpdateArticle`` from the editor; tags are comma-separated."""
    values: dict[str, Any] = _fields("title", "description", "body")
    values["tagList"] = split_tags(request.form.get("tags", ""))
    return validate(schema, values)


def comment_form() -> NewComment:
    return validate(NewComment, _fields("body"))


def split_tags(text: str) -> list[str]:
    """``"a, b,,c "`` -> ``["a", "b", "c"]`` (the controller de-duplicates and sorts)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def join_tags(tags: list[str]) -> str:
    return ", ".join(tags)
