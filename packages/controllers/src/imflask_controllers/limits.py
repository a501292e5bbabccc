"""Rate limits on logins, registrations and writes; counted in Redis across processes."""

from __future__ import annotations

import hashlib

from imflask_controllers.context import Context
from imflask_controllers.errors import RateLimited
from imflask_core.config import RateLimit
from imflask_models.redis import rate_limits


def limit_auth_attempt(ctx: Context, *, action: str, client_ip: str, account: str) -> None:
    """Count a login or registration per client IP and per account (email)."""
    limit = ctx.settings.rate_limit_auth
    account_id = hashlib.sha256(account.strip().lower().encode()).hexdigest()[:32]
    _enforce(ctx, f"{action}:ip", client_ip, limit)
    _enforce(ctx, f"{action}:account", account_id, limit)


def limit_write(ctx: Context, *, user_id: int) -> None:
    """Count one write (create, update, delete, favorite, follow...) of a user."""
    _enforce(ctx, "write", str(user_id), ctx.settings.rate_limit_writes)


def _enforce(ctx: Context, scope: str, ident: str, limit: RateLimit) -> None:
    verdict = rate_limits.hit(
        ctx.stores.redis, scope, ident, limit=limit.count, window=limit.seconds
    )
    if not verdict.allowed:
        raise RateLimited(verdict.retry_after)
