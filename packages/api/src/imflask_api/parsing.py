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
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH: 413 before we read
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise RequestInvalid({"body": ["must be a JSON object"]}) from None
    if not isinstance(payload, dict):
        raise RequestInvalid({"body": ["must be a JSON object"]})
    inner = payload.get(wrapper)
    if inner is None:
        raise RequestInvalid({wrapper: ["is missing"]})
    if not isinstance(inner, dict):
        raise RequestInvalid({wrapper: ["must be an object"]})
    try:
        return schema.model_validate(inner)
    except ValidationError as error:
        raise RequestInvalid(field_errors(error)) from None


def field_errors(error: ValidationError) -> dict[str, list[str]]:
    """Pydantic's errors in the RealWorld shape, worded for people."""
    errors: dict[str, list[str]] = {}
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "body"
        errors.setdefault(field, []).append(_message(item))
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
    if kind == "too_long":
        return f"has too many items (maximum is {ctx.get('max_length')})"
    if kind in {"model_type", "dict_type", "model_attributes_type"}:
        return "must be an object"
    if kind == "string_pattern_mismatch":
        return "may only contain letters, digits, '.', '-' and '_'"
    if kind == "value_error":
        return str(ctx.get("error") or "is invalid")
    return "is invalid"
