"""Request bodies: JSON, inside a RealWorld wrapper object, validated by a pydantic model."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from imflask_api.errors import RequestInvalid

M = TypeVar("M", bound=BaseModel)


def parse_body(schema: type[M], wrapper: str) -> M:
    """``{"<wrapper>": {...}}`` validated by ``schema``; unknown fields are ignored."""
    payload = _json_object()
    inner = payload.get(wrapper)
    if inner is None:
        raise RequestInvalid({wrapper: ["is missing"]})
    if not isinstance(inner, dict):
        raise RequestInvalid({wrapper: ["must be an object"]})
    try:
        return schema.model_validate(inner)
    except ValidationError as error:
        raise RequestInvalid(field_errors(error)) from None


def parse_raw_body(schema: type[M]) -> M:
    """A JSON object (no wrapper) validated by ``schema``."""
    try:
        return schema.model_validate(_json_object())
    except ValidationError as error:
        raise RequestInvalid(field_errors(error)) from None


def _json_object() -> dict:
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH: 413 before we read
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise RequestInvalid({"body": ["must be a JSON object"]}) from None
    if not isinstance(payload, dict):
        raise RequestInvalid({"body": ["must be a JSON object"]})
    return payload


def parse_query(schema: type[M]) -> M:
    """The query string (first value of each name) validated by ``schema``."""
    try:
        return schema.model_validate(request.args.to_dict())
    except ValidationError as error:
        raise RequestInvalid(field_errors(error)) from None


def field_errors(error: ValidationError) -> dict[str, list[str]]:
    """Pydantic's errors in the RealWorld shape, worded for people.

    List positions are left out of the field name: ``tagList``, not ``tagList.2``.
    """
    errors: dict[str, list[str]] = {}
    for item in error.errors(include_url=False):
        field = ".".join(str(p) for p in item["loc"] if not isinstance(p, int)) or "body"
        message = _message(item)
        if message not in errors.setdefault(field, []):
            errors[field].append(message)
    return errors


def _message(item: Any) -> str:
    kind = item["type"]
    ctx = item.get("ctx") or {}
    if kind == "missing":
        return "can't be blank"
    if kind == "string_too_short":
        return (
            "can't be blank"
            if ctx.get("min_length") == 1
            else (f"is too short (minimum is {ctx.get('min_length')} characters)")
        )
    if kind == "string_too_long":
        return f"is too long (maximum is {ctx.get('max_length')} characters)"
    if kind in {"string_type", "string_sub_type"}:
        return "must be a string"
    if kind in {"list_type", "tuple_type"}:
        return "must be a list"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return "must be an integer"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if kind == "too_long":
        return f"has too many items (maximum is {ctx.get('max_length')})"
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        return "must be an object"
    if kind == "string_pattern_mismatch":
        return "may only contain letters, digits, '.', '-' and '_'"
    if kind == "value_error":
        return str(ctx.get("error") or "is invalid")
    return "is invalid"
