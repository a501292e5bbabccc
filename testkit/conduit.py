"""Conduit over real HTTP for the fault and topology suites: an account and signing up."""

from __future__ import annotations

from dataclasses import dataclass

from testkit.load import http


@dataclass(frozen=True)
class Account:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


def new_user(username: str) -> dict:
    """The registration body of ``username`` (``<name>@example.org``, password ``password1``)."""
    user = {"username": username, "email": f"{username}@example.org", "password": "password1"}
    return {"user": user}


def sign_up(base_url: str, username: str) -> Account:
    """Register ``username`` through ``POST /api/users``; the account with its token."""
    answer = http(base_url, "POST", "/api/users", json=new_user(username))
    assert answer.status == 201, answer
    assert answer.body is not None
    return Account(username, answer.body["user"]["token"])
