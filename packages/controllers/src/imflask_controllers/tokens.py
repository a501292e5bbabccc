"""Access tokens: short-lived HS256 JWTs signed with the app's secret key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt

from imflask_controllers.errors import Unauthenticated

ALGORITHM = "HS256"
ACCESS = "access"


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    token_id: str
    issued_at: float  # seconds since the epoch, to the microsecond (see mint_access_token)
    expires_at: datetime


def mint_access_token(*, secret: str, user_id: int, ttl_seconds: int) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "typ": ACCESS,
        "jti": uuid.uuid4().hex,
        # Not whole seconds (JWT allows a fraction): a change of password voids the
        # tokens issued before it, and the fresh one it hands out may share the second.
        "iat": now.timestamp(),
        "exp": now + timedelta(seconds=ttl_seconds),
    }
    # PyJWT types ``key`` with cryptography's key classes, which are not installed (HS256).
    return jwt.encode(claims, secret, algorithm=ALGORITHM)  # pyright: ignore[reportUnknownMemberType] -- see above


def read_access_token(token: str, *, secret: str) -> AccessClaims:
    """The token's claims; raises ``Unauthenticated`` if it is expired, forged or malformed."""
    claims = _verified_claims(token, secret)
    if claims.expires_at <= datetime.now(UTC):
        raise Unauthenticated("token", "has expired")
    return claims


@lru_cache(maxsize=4096)
def _verified_claims(token: str, secret: str) -> AccessClaims:
    """Signature and shape checks, remembered per process: a client sends the same token
    many times, and verifying it is most of an authenticated request's CPU time. Only
    successes are cached; expiry is checked on every call."""
    try:
        claims = jwt.decode(  # pyright: ignore[reportUnknownMemberType] -- as in mint_access_token
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp", "iat", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("token", "has expired") from None
    except jwt.PyJWTError:
        raise Unauthenticated("token", "is invalid") from None
    if claims.get("typ") != ACCESS or not str(claims["sub"]).isdigit():
        raise Unauthenticated("token", "is invalid")
    return AccessClaims(
        user_id=int(claims["sub"]),
        token_id=str(claims["jti"]),
        issued_at=float(claims["iat"]),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )
