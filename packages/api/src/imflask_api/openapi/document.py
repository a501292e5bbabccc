"""The OpenAPI 3.1 document of an app, built from its URL map and its views' ``Operation``s.

Every route whose view has an ``operation`` is in it, under the path it is served at
(``/api`` and ``/api/v1`` are the two servers of one path), and nothing else is. The
schemas are pydantic's JSON Schema (``models_json_schema``) of the request and
response models the operations name.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from imflask_api import responses
from imflask_api.openapi.operations import ATTRIBUTE, TOKEN, Answer, Body, Operation, operation_of
from imflask_api.openapi.texts import (
    ERROR_RESPONSES,
    HEADERS,
    IDEMPOTENCY_KEY,
    INFO,
    PATH_VARIABLES,
    ROOT_SERVERS,
    SECURITY_SCHEMES,
    SERVERS,
    TAGS,
)

WRITE_METHODS = {"post", "put", "delete", "patch"}
SCHEMAS = "#/components/schemas/"
FLASK_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


class _Generator(GenerateJsonSchema):
    """pydantic's JSON Schema, without a title on every property (the name says it)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


@dataclass(frozen=True)
class Route:
    path: str  # OpenAPI form, relative to its servers: /articles/{slug}
    method: str
    view: Callable[..., Any]


def document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every documented route of ``app``."""
    routes = _routes(app)
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
            "headers": HEADERS,
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
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
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
