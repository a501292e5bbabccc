"""Use cases of accounts: register, log in, read and update the current user."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from functools import cache
from typing import TypedDict

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from imflask_controllers import caches, effects, limits, reads, tokens
from imflask_controllers.context import Context
from imflask_controllers.errors import Invalid, NotFound, Unauthenticated
from imflask_controllers.types import User
from imflask_models.errors import DuplicateKey
from imflask_models.mysql import articles as articles_table
from imflask_models.mysql import users as users_table
from imflask_models.mysql.database import SqlConnection
from imflask_models.mysql.users import UserRow
from imflask_models.redis import auth_tokens

TAKEN = "has already been taken"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuthenticatedUser:
    """A user as the RealWorld ``user`` object shows it, with a fresh access token."""

    id: int
    username: str
    email: str
    bio: str | None
    image: str | None
    token: str


def register_user(
    ctx: Context, *, username: str, email: str, password: str, client_ip: str
) -> AuthenticatedUser:
    """Create an account; the unique indexes decide who wins a race for a name.

    Counted against the registration limit per ``client_ip`` and per email; ``client_ip``
    is then trusted for the account's logins, as after a login (``limits``)."""
    limits.limit_auth_attempt(ctx, action="register", client_ip=client_ip, account=email)
    password_hash = ctx.passwords.hash(password)

    def write(conn: SqlConnection) -> UserRow | None:  # read back before the commit
        user_id = users_table.insert_user(
            conn, username=username, email=normalize_email(email), password_hash=password_hash
        )
        return users_table.user_by_id(conn, user_id)

    try:
        user = ctx.stores.sql.run_transaction(write)
    except DuplicateKey as error:
        raise Invalid(error.field, TAKEN) from None
    assert user is not None
    limits.signed_in(ctx, client_ip=client_ip, account=email)
    return _authenticated(ctx, user_of(user))


def log_in(ctx: Context, *, email: str, password: str, client_ip: str) -> AuthenticatedUser:
    """Check the credentials; an unknown email costs as much as a wrong password.

    Counted against the login limit per ``client_ip`` and per email, before any check;
    once it succeeds, ``client_ip`` is no longer counted per email (``limits``)."""
    limits.limit_auth_attempt(ctx, action="login", client_ip=client_ip, account=email)
    with ctx.stores.sql.connection() as conn:
        user = users_table.user_by_email(conn, normalize_email(email))
    stored_hash = user.password_hash if user else _dummy_hash(ctx.passwords)
    if not _password_matches(ctx.passwords, stored_hash, password) or user is None:
        raise Unauthenticated("email or password", "is invalid")
    limits.signed_in(ctx, client_ip=client_ip, account=email)
    if ctx.passwords.check_needs_rehash(user.password_hash):
        with ctx.stores.sql.connection() as conn:
            users_table.update_user(conn, user.id, {"password_hash": ctx.passwords.hash(password)})
    return _authenticated(ctx, user_of(user))


@dataclass(frozen=True)
class Identity:
    """Who sent a request: the user, and the access token they sent.

    The user is read from a cache that never holds credentials (a ``User`` has
    none), and nothing a token authorizes needs them.
    """

    user: User
    token: str
    claims: tokens.AccessClaims


def authenticate(ctx: Context, token: str) -> Identity:
    """The user an access token belongs to; ``Unauthenticated`` if there is none.

    A revoked token is refused: logged out, or issued before the user's last change
    of password or email. If Redis cannot say whether it is revoked, the token is
    accepted: it expires soon anyway, and an outage of the token store must not sign
    everyone out.

    One Redis round trip on a signed-in request: the token's revocation mark, the
    user's "void before" mark and the user's cached account, which a change of the
    account invalidates (``effects.user_changed``); MySQL is read only when the
    account is not cached. With read replicas the same round trip reads the user's
    write position, which routes their reads in this request (``reads.known_written``).
    """
    claims = tokens.read_access_token(token, secret=ctx.settings.secret_key)

    def load() -> _Account | None:
        with ctx.stores.sql.connection() as conn:
            return _account_json(users_table.user_by_id(conn, claims.user_id))

    redis = ctx.stores.redis
    revocation = auth_tokens.revoked_access_token_key(redis, claims.token_id)
    void_before = auth_tokens.tokens_void_before_key(redis, claims.user_id)
    written = reads.viewer_key(ctx, claims.user_id)  # with replicas: their write position
    alongside = [revocation, void_before] + ([written] if written else [])
    account, marks = caches.signed_in_user(ctx, claims.user_id, load, alongside=alongside)
    if marks is None:
        log.warning("token revocation not checked: redis did not answer")
    else:
        if marks[0] is not None or not _issued_after(claims.issued_at, marks[1]):
            raise Unauthenticated("token", "has been revoked")
        if written:
            reads.known_written(claims.user_id, marks[2])
    if account is None:
        raise Unauthenticated("token", "belongs to no user")
    return Identity(_account_of(account), token, claims)


class _Account(TypedDict):
    """What ``authenticate`` caches of a user: a ``User``, so never the password hash."""

    id: int
    username: str
    email: str
    bio: str | None
    image: str | None


def _issued_after(issued_at: float, void_before: str | None) -> bool:
    """Whether a token issued at ``issued_at`` outlived the user's "void before" mark."""
    return void_before is None or issued_at > float(void_before)


def _account_json(row: UserRow | None) -> _Account | None:
    return None if row is None else _Account(**dataclasses.asdict(user_of(row)))


def _account_of(account: _Account) -> User:
    return User(**account)


def user_by_id(ctx: Context, user_id: int) -> User | None:
    """A user by id, or None if they no longer exist."""
    with ctx.stores.sql.connection() as conn:
        row = users_table.user_by_id(conn, user_id)
    return None if row is None else user_of(row)


def current_user(*, user: User, token: str) -> AuthenticatedUser:
    """The signed-in user, with the token they presented (RealWorld echoes it)."""
    return _as_authenticated(user, token)


@limits.write_limited(by="user")
def update_user(
    ctx: Context,
    *,
    user: User,
    token: str,
    changes: dict[str, str | None],
    current_password: str | None = None,
) -> AuthenticatedUser:
    """Change the given fields of the signed-in user; a new password is hashed first.

    A new password or email voids every access and refresh token issued before
    it, on every instance, and the answer carries a fresh access token instead of
    ``token``. The mark is written (and confirmed by a Redis replica) inside the
    transaction, after the UPDATE: a taken email (422) voids nothing, and if Redis
    cannot take the mark (503) nothing changes.

    ``current_password``: a web session must send it to change the password or the
    email (``Invalid`` if wrong); None (the API, signed in by access token) skips
    that check.
    """
    credentials = changes_credentials(user, changes)
    if credentials and current_password is not None:
        _check_current_password(ctx, user.id, current_password)
    columns: dict[str, str | None] = {}
    for field, value in changes.items():
        if field == "password":
            assert value is not None
            columns["password_hash"] = ctx.passwords.hash(value)
        elif field == "email":
            assert value is not None
            columns["email"] = normalize_email(value)
        else:
            columns[field] = value

    def write(conn: SqlConnection) -> tuple[UserRow | None, list[str]]:
        users_table.update_user(conn, user.id, columns)
        if credentials:
            _void_tokens_issued_until_now(ctx, user.id)
        return users_table.user_by_id(conn, user.id), articles_table.slugs_by_author(conn, user.id)

    try:
        updated, their_slugs = ctx.stores.sql.run_transaction(write)
    except DuplicateKey as error:
        raise Invalid(error.field, TAKEN) from None
    if updated is None:
        raise NotFound("user")
    effects.user_changed(
        ctx, user_id=user.id, usernames=[user.username, updated.username], slugs=their_slugs
    )
    if credentials:
        return _authenticated(ctx, user_of(updated))
    return _as_authenticated(user_of(updated), token)


def changes_credentials(user: User, changes: dict[str, str | None]) -> bool:
    """Whether ``changes`` sets a password or an email other than the user's."""
    email = changes.get("email")
    return "password" in changes or (email is not None and normalize_email(email) != user.email)


def _check_current_password(ctx: Context, user_id: int, current_password: str) -> None:
    with ctx.stores.sql.connection() as conn:
        row = users_table.user_by_id(conn, user_id)
    if row is None:
        raise NotFound("user")
    if not _password_matches(ctx.passwords, row.password_hash, current_password):
        raise Invalid("current password", "is wrong" if current_password else "can't be blank")


def _void_tokens_issued_until_now(ctx: Context, user_id: int) -> None:
    settings = ctx.settings
    auth_tokens.void_tokens_before(
        ctx.stores.redis,
        user_id,
        moment=time.time(),
        ttl=max(settings.access_token_ttl, settings.refresh_token_ttl) + 1,
    )


def normalize_email(email: str) -> str:
    return email.strip().lower()


def with_new_access_token(ctx: Context, user: User) -> AuthenticatedUser:
    return _authenticated(ctx, user)


def user_of(row: UserRow) -> User:
    """The row's user, without the password hash (which never leaves the controllers)."""
    return User(id=row.id, username=row.username, email=row.email, bio=row.bio, image=row.image)


def _authenticated(ctx: Context, user: User) -> AuthenticatedUser:
    token = tokens.mint_access_token(
        secret=ctx.settings.secret_key, user_id=user.id, ttl_seconds=ctx.settings.access_token_ttl
    )
    return _as_authenticated(user, token)


def _as_authenticated(user: User, token: str) -> AuthenticatedUser:
    return AuthenticatedUser(
        id=user.id,
        username=user.username,
        email=user.email,
        bio=user.bio,
        image=user.image,
        token=token,
    )


def _password_matches(hasher: PasswordHasher, stored_hash: str, password: str) -> bool:
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash with the live parameters, verified when the email is unknown."""
    return hasher.hash("not a password anyone has")
