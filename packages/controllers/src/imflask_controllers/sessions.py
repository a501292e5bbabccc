"""The auth extras: refresh tokens with rotation and reuse detection, and logout;
and the browser sessions of the web pages: who they belong to, and their revocation.

The RealWorld access token stays a short-lived JWT; a refresh token (an opaque
random string, kept only as a hash in Redis) lets a browser get a new one.
Each refresh token works once; presenting a used one revokes its family. A change
of password or email voids every refresh token issued before it (see
``users.update_user``), and ``update_account`` hands the caller a new one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from imflask_controllers import users
from imflask_controllers.context import Context
from imflask_controllers.errors import Unauthenticated
from imflask_controllers.tokens import AccessClaims
from imflask_controllers.users import AuthenticatedUser, User
from imflask_core.errors import StoreUnavailable
from imflask_models.mysql import users as users_table
from imflask_models.mysql.users import UserRow
from imflask_models.redis import auth_tokens

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refreshed:
    user: AuthenticatedUser
    refresh_token: str


def start_session(ctx: Context, user_id: int) -> str | None:
    """A refresh token for a new login; None (and a warning) if Redis is down."""
    try:
        return _issue(ctx, user_id, family=uuid.uuid4().hex)
    except StoreUnavailable as error:
        log.warning("no refresh token issued: %s", error)
        return None


def refresh(ctx: Context, *, refresh_token: str) -> Refreshed:
    """Trade a refresh token for a new access token and a new refresh token."""
    record = auth_tokens.use_refresh_token(ctx.stores.redis, refresh_token)
    if record is None:
        raise Unauthenticated("refresh token", "is invalid or expired")
    ttl = ctx.settings.refresh_token_ttl
    if not record.first_use:
        auth_tokens.revoke_refresh_family(ctx.stores.redis, record.family, ttl=ttl)
        log.warning("refresh token reused; family %s revoked", record.family)
        raise Unauthenticated("refresh token", "was already used; sign in again")
    if auth_tokens.refresh_family_revoked(ctx.stores.redis, record.family):
        raise Unauthenticated("refresh token", "was revoked; sign in again")
    void_before = auth_tokens.tokens_void_before(ctx.stores.redis, record.user_id)
    if void_before is not None and record.issued_at <= void_before:
        raise Unauthenticated("refresh token", "was revoked; sign in again")
    with ctx.stores.sql.connection() as conn:
        user = users_table.user_by_id(conn, record.user_id)
    if user is None:
        raise Unauthenticated("refresh token", "belongs to no user")
    return Refreshed(
        user=users.with_new_access_token(ctx, users.user_of(user)),
        refresh_token=_issue(ctx, user.id, family=record.family),
    )


@dataclass(frozen=True)
class AccountUpdate:
    user: AuthenticatedUser
    refresh_token: str | None  # a new session's, when the change voided the old ones


def update_account(
    ctx: Context,
    *,
    user: User,
    token: str,
    changes: dict[str, str | None],
    current_password: str | None = None,
) -> AccountUpdate:
    """``users.update_user``; a new password or email also starts a new session for the
    caller, since it voided every refresh token issued before it."""
    updated = users.update_user(
        ctx, user=user, token=token, changes=changes, current_password=current_password
    )
    renewed = users.changes_credentials(user, changes)
    return AccountUpdate(updated, start_session(ctx, user.id) if renewed else None)


def log_out(ctx: Context, *, access: AccessClaims | None, refresh_token: str | None) -> None:
    """Revoke the access token until it expires, and the refresh token's whole family."""
    if access is not None:
        seconds_left = int((access.expires_at - datetime.now(UTC)).total_seconds()) + 1
        auth_tokens.revoke_access_token(
            ctx.stores.redis, access.token_id, seconds_left=seconds_left
        )
    if refresh_token:
        family = auth_tokens.refresh_token_family(ctx.stores.redis, refresh_token)
        if family is not None:
            auth_tokens.revoke_refresh_family(
                ctx.stores.redis, family, ttl=ctx.settings.refresh_token_ttl
            )


@dataclass(frozen=True)
class WebSession:
    """What a browser's signed session cookie holds for its signed-in user."""

    user_id: int
    # A keyed digest of the password hash (it shows nothing of the hash): a new
    # password gives a new one, which ends every session begun before.
    fingerprint: str
    session_id: str  # refused once signed out, in every copy of the cookie


def start_web_session(ctx: Context, user_id: int) -> tuple[User, WebSession]:
    """A new browser session for ``user_id``; ``Unauthenticated`` if they no longer exist."""
    with ctx.stores.sql.connection() as conn:
        row = users_table.user_by_id(conn, user_id)
    if row is None:
        raise Unauthenticated("session", "belongs to no user")
    started = WebSession(row.id, _fingerprint(ctx, row), secrets.token_urlsafe(16))
    return users.user_of(row), started


def web_session_user(ctx: Context, held: WebSession) -> User | None:
    """The user of a browser session; None once it was signed out, the account is gone,
    or the password changed since it began."""
    if web_session_ended(ctx, held.session_id):
        return None
    with ctx.stores.sql.connection() as conn:
        row = users_table.user_by_id(conn, held.user_id)
    if row is None or not hmac.compare_digest(
        held.fingerprint.encode(), _fingerprint(ctx, row).encode()
    ):
        return None
    return users.user_of(row)


def end_web_session(ctx: Context, session_id: str, *, lifetime: int) -> None:
    """Refuse the session from now on (``lifetime``: seconds its cookie could still be valid).

    If Redis is down the browser's cookie is still cleared, but a copy of it
    stays valid: logged, as the access tokens' revocation is.
    """
    try:
        auth_tokens.revoke_session(ctx.stores.redis, session_id, seconds=lifetime)
    except StoreUnavailable as error:
        log.warning("signed-out session not revoked: %s", error)


def web_session_ended(ctx: Context, session_id: str) -> bool:
    """Whether the session was signed out; False when Redis cannot say (see ``authenticate``)."""
    try:
        return auth_tokens.session_revoked(ctx.stores.redis, session_id)
    except StoreUnavailable as error:
        log.warning("session revocation not checked: %s", error)
        return False


def _fingerprint(ctx: Context, row: UserRow) -> str:
    """What a web session is bound to: a new password or a new email ends it (the
    settings page starts the changer's own session again)."""
    message = f"{row.id}:{row.password_hash}:{row.email.casefold()}".encode()
    return hmac.new(ctx.settings.secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def _issue(ctx: Context, user_id: int, *, family: str) -> str:
    token = secrets.token_urlsafe(32)
    auth_tokens.save_refresh_token(
        ctx.stores.redis,
        token,
        user_id=user_id,
        family=family,
        issued_at=time.time(),
        ttl=ctx.settings.refresh_token_ttl,
    )
    return token
