"""Rate limits on logins, registrations and writes; counted in Redis across processes.

The use cases apply them, not the views: ``users.log_in`` and ``users.register_user``
take the client's address and call ``limit_auth_attempt``; every write use case is
decorated ``@write_limited(by=...)``. So the API, the pages, the CLI and any new entry
point get the same limits without remembering them. Seeding (``seeding.seed``) is not a
user's write: it inserts through the models in bulk, calls no write use case and so
counts against no limit.

Logins are limited per client address and per account, but an address that has signed
in to the account before skips the per-account count (OWASP's "device cookie" idea, keyed
on the address): strangers guessing an owner's password from many addresses cannot lock
the owner out of their usual address, and still run into the per-account limit
themselves; the per-address limit applies to everyone.

Each counted request leaves its verdict for the HTTP layer to report as ``RateLimit-*``
headers (``reported``): the tightest one of the request, in a context variable that
``start_request`` clears.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, Protocol, TypeVar, cast

from imflask_controllers import reads
from imflask_controllers.context import Context
from imflask_controllers.errors import RateLimited
from imflask_core.config import RateLimit
from imflask_models.redis import rate_limits

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class LimitReport:
    """What the ``RateLimit-*`` headers say of the tightest limit a request counted against."""

    allowed: bool
    limit: int
    remaining: int  # requests left in the window after this one
    reset: int  # seconds until the oldest counted request leaves the window
    window: int
    retry_after: int  # 0 when allowed


_tightest: ContextVar[LimitReport | None] = ContextVar("imflask_rate_limit", default=None)


class _Writer(Protocol):
    @property
    def id(self) -> int: ...


def limit_auth_attempt(ctx: Context, *, action: str, client_ip: str, account: str) -> None:
    """Count a login or registration per client IP and per account (email); a login from
    an address that signed in to the account before is counted per address only."""
    limit = ctx.settings.rate_limit_auth
    account_id = _digest(ctx, account.strip().lower())
    _enforce(ctx, f"{action}:ip", client_ip, limit)
    if action == "login" and rate_limits.trusted(
        ctx.stores.redis, action, account_id, _digest(ctx, client_ip)
    ):
        return
    _enforce(ctx, f"{action}:account", account_id, limit)


def signed_in(ctx: Context, *, client_ip: str, account: str) -> None:
    """``account`` signed in (or up) from ``client_ip``: trust the address for its logins."""
    rate_limits.trust(
        ctx.stores.redis, "login", _digest(ctx, account.strip().lower()), _digest(ctx, client_ip)
    )


def limit_write(ctx: Context, *, user_id: int) -> None:
    """Count one write (create, update, delete, favorite, follow...) of a user."""
    _enforce(ctx, "write", str(user_id), ctx.settings.rate_limit_writes)


def write_limited(
    *, by: str
) -> Callable[[Callable[Concatenate[Context, P], R]], Callable[Concatenate[Context, P], R]]:
    """A write use case by the user passed as keyword ``by``: it counts against that
    user's write limit (``RateLimited`` past it, before anything is written), and the
    user's next reads, on any instance, see what it wrote (``reads.writing``)."""

    def decorate(
        use_case: Callable[Concatenate[Context, P], R],
    ) -> Callable[Concatenate[Context, P], R]:
        @functools.wraps(use_case)
        def limited(ctx: Context, *args: P.args, **kwargs: P.kwargs) -> R:
            user_id = cast(_Writer, kwargs[by]).id  # use cases take keyword arguments only
            limit_write(ctx, user_id=user_id)
            with reads.writing(ctx, user_id=user_id):
                return use_case(ctx, *args, **kwargs)

        return limited

    return decorate


def start_request() -> None:
    """Forget the verdicts of the previous request served by this thread."""
    _tightest.set(None)


def reported() -> LimitReport | None:
    """The tightest limit this request was counted against (the refusing one, else the
    one with the fewest requests left); None if none was, or Redis did not answer."""
    return _tightest.get()


def _enforce(ctx: Context, scope: str, ident: str, limit: RateLimit) -> None:
    verdict = rate_limits.hit(
        ctx.stores.redis, scope, ident, limit=limit.count, window=limit.seconds
    )
    if verdict is None:  # Redis did not answer: allowed, and nothing to report
        return
    tightest = _tightest.get()
    if tightest is None or (tightest.allowed and verdict.remaining <= tightest.remaining):
        _tightest.set(
            LimitReport(
                allowed=verdict.allowed,
                limit=verdict.limit,
                remaining=verdict.remaining,
                reset=verdict.reset,
                window=verdict.window,
                retry_after=verdict.retry_after,
            )
        )
    if not verdict.allowed:
        raise RateLimited(verdict.retry_after)


def _digest(ctx: Context, text: str) -> str:
    """Keyed, so that a stored digest of an address (a small space) cannot be reversed by
    trying every address without the secret."""
    key = ctx.settings.secret_key.encode()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]
