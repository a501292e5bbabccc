"""Domain errors: what went wrong in the business's words, never an HTTP code.

Each carries ``errors`` in the RealWorld shape (``{"field": ["message"]}``);
the HTTP layer picks the status code from the class.
"""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, field: str, message: str):
        self.errors = {field: [message]}
        super().__init__(f"{field} {message}")


class Invalid(DomainError):
    """The input breaks a rule (a taken username, an empty tag...)."""


class Unauthenticated(DomainError):
    """Credentials or a token are missing, wrong, expired or revoked."""


class Forbidden(DomainError):
    """The user is known but may not do this."""


class Conflict(DomainError):
    """The request clashes with another one still running (a reused idempotency key)."""


class NotFound(DomainError):
    """The thing named does not exist."""

    def __init__(self, resource: str):
        super().__init__(resource, "not found")


class RateLimited(DomainError):
    """Too many attempts; ``retry_after`` says how many seconds to wait."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__("requests", f"are too many, retry in {retry_after} seconds")
