"""Helpers for the HTTP tests: users with tokens, articles, comments."""

from __future__ import annotations

from dataclasses import dataclass

import pytest


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
