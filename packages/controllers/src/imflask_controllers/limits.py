"""Rate limits on logins, registrations and writes; counted in Redis across processes.

The use cases apply them, not the views: ``users.log_in`` and ``users.register_user``
take the client's address and call ``limit_auth_attempt``; every write use case is
decorated ``@write_limited(by=...)``. So the API, the pages, the CLI and any new entry
point get the same limits without remembering them. Seeding (``seeding.seed``) is not a
user's write: it inserts through the models in bulk, calls no write use case and so
counts against no limit.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar, cast

from imflask_controllers import reads
from imflask_controllers.context import Context
from imflask_controllers.errors import RateLimited
from imflask_core.config import RateLimit
from imflask_models.redis import rate_limits

P = ParamSpec("P")
R = TypeVar("R")


class _Writer(Protocol):
    @property
    def id(self) -> int: ...


def limit_auth_attempt(ctx: Context, *, action: str, client_ip: str, account: str) -> None:
    """Count a login or registration per client IP and per account (email)."""
    limit = ctx.settings.rate_limit_auth
    account_id = hashlib.sha256(account.strip().lower().encode()).hexdigest()[:32]
    _enforce(ctx, f"{action}:ip", client_ip, limit)
    _enforce(ctx, f"{action}:account", account_id, limit)


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


def _enforce(ctx: Context, scope: str, ident: str, limit: RateLimit) -> None:
    verdict = rate_limits.hit(
        ctx.stores.redis, scope, ident, limit=limit.count, window=limit.seconds
    )
    if not verdict.allowed:
        raise RateLimited(verdict.retry_after)
