"""Helpers for the HTTP tests: users with tokens, articles, comments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, Response, request, request_finished
from jsonschema import Draft202012Validator

from imflask_api.docs import openapi_document

FLASK_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


@dataclass
class Account:
    username: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


@pytest.fixture
def sign_up(client):
    """``sign_up("jake")`` registers jake and returns his account with a token."""

    def make(username: str = "jake", **fields) -> Account:
        email = fields.pop("email", f"{username}@conduit.test")
        password = fields.pop("password", f"{username}-password")
        response = client.post(
            "/api/users",
            json={"user": {"username": username, "email": email, "password": password}},
        )
        assert response.status_code == 201, response.get_json()
        return Account(username, email, password, response.get_json()["user"]["token"])

    return make


@pytest.fixture
def publish(client):
    """``publish(author, title=...)`` creates an article and returns its JSON."""

    def make(author: Account, **fields) -> dict:
        article = {
            "title": "How to train your dragon",
            "description": "Ever wonder how?",
            "body": "You have to believe",
            "tagList": ["dragons", "training"],
            **fields,
        }
        response = client.post("/api/articles", headers=author.headers, json={"article": article})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["article"]

    return make


@pytest.fixture(autouse=True)
def answers_match_the_document():
    """Every answer an API test gets, from any app, is checked against the app's OpenAPI
    document: its status is documented for the operation, its JSON body validates against
    the documented schema (the pydantic response models), and the documented headers of
    an error are there."""
    answers: list[tuple[Flask, str, str, Response]] = []

    def record(sender: Flask, response: Response, **extra) -> None:
        if request.url_rule is not None and not response.is_streamed:
            answers.append((sender, request.method, request.url_rule.rule, response))

    with request_finished.connected_to(record):
        yield
    for app, method, rule, response in answers:
        check_answer(openapi_document(app), method, rule, response)


def check_answer(document: dict, method: str, rule: str, response: Response) -> None:
    operation = documented_operation(document, method, rule)
    if operation is None:
        return  # not part of the API (pages, static files); test_openapi.py checks which
    where = f"{method} {rule} -> {response.status_code}"
    answer = operation["responses"].get(str(response.status_code))
    assert answer is not None, f"{where}: status not documented"
    answer = resolve(document, answer)
    content = answer.get("content", {})
    if "application/json" in content:
        schema = {**content["application/json"]["schema"], "components": document["components"]}
        errors = sorted(
            Draft202012Validator(schema).iter_errors(response.get_json()), key=lambda e: e.path
        )
        assert not errors, f"{where}: {errors[0].message} at {list(errors[0].path)}"
    elif not content:
        assert not response.get_data(), f"{where}: documented without a body"
    for header in answer.get("headers", {}):
        if header != "Set-Cookie":  # set only when Redis answers; see UserWithCookie
            assert header in response.headers, f"{where}: no {header} header"


def documented_operation(document: dict, method: str, rule: str) -> dict | None:
    path = FLASK_VARIABLE.sub(r"{\1}", rule)
    for candidate in (path.removeprefix("/api/v1"), path.removeprefix("/api"), path):
        item = document["paths"].get(candidate)
        if item is not None and method.lower() in item:
            return item[method.lower()]
    return None


def resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node
