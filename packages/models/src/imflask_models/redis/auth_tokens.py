"""Token state in Redis: revoked access tokens and browser sessions, single-use
refresh tokens, and each user's "tokens issued before this moment are void" mark
(set by a change of password or email).

Refresh tokens are stored by their SHA-256, never as issued. Each belongs to a
family (one login); presenting a token that was already used revokes the
whole family, since one of the two presenters stole it.

What a Redis failover must not undo (a revocation, a refresh token's "used"
mark) is written with ``RedisStore.write_confirmed``: acknowledged once a
replica has it. A new refresh token is not: losing one signs a user in again,
which is safe.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from imflask_models.redis.client import RedisStore, unavailable_on_failure


@dataclass(frozen=True)
class RefreshRecord:
    user_id: int
    family: str
    first_use: bool  # False: it had been used before (reuse)
    issued_at: float  # seconds since the epoch; 0 for a token saved without it


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def revoked_access_token_key(store: RedisStore, token_id: str) -> str:
    """The key whose presence marks an access token revoked (to read with other keys)."""
    return store.key("revoked", token_id)


@unavailable_on_failure
def revoke_access_token(store: RedisStore, token_id: str, *, seconds_left: int) -> None:
    if seconds_left > 0:
        key = revoked_access_token_key(store, token_id)
        store.write_confirmed(lambda client: client.set(key, "1", ex=seconds_left))


def tokens_void_before_key(store: RedisStore, user_id: int) -> str:
    """The key holding the moment before which the user's tokens are void (read with
    other keys; see ``void_tokens_before``)."""
    return store.key("tokens-void-before", user_id)


# Keep the later of two moments: a slower, earlier change must not shorten a newer mark.
VOID_BEFORE_SCRIPT = """
local held = redis.call('GET', KEYS[1])
if held and tonumber(held) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


@unavailable_on_failure
def void_tokens_before(store: RedisStore, user_id: int, *, moment: float, ttl: int) -> None:
    """Every access and refresh token of ``user_id`` issued at or before ``moment`` is void;
    ``ttl``: seconds the longest-lived of them could still be valid."""
    void = store.client.register_script(VOID_BEFORE_SCRIPT)
    key = tokens_void_before_key(store, user_id)
    store.write_confirmed(
        lambda client: void(keys=[key], args=[repr(moment), max(ttl, 1)], client=client)
    )


@unavailable_on_failure
def tokens_void_before(store: RedisStore, user_id: int) -> float | None:
    held = store.client.get(tokens_void_before_key(store, user_id))
    return None if held is None else float(held)


@unavailable_on_failure
def revoke_session(store: RedisStore, session_id: str, *, seconds: int) -> None:
    """A signed-out browser session: refused for as long as its cookie could live."""
    key = store.key("revoked-session", session_id)
    store.write_confirmed(lambda client: client.set(key, "1", ex=max(seconds, 1)))


@unavailable_on_failure
def session_revoked(store: RedisStore, session_id: str) -> bool:
    return store.client.exists(store.key("revoked-session", session_id)) == 1


@unavailable_on_failure
def save_refresh_token(
    store: RedisStore, token: str, *, user_id: int, family: str, issued_at: float, ttl: int
) -> None:
    key = store.key("refresh", _digest(token))
    pipe = store.client.pipeline(transaction=True)
    pipe.hset(key, mapping={"user_id": user_id, "family": family, "issued_at": repr(issued_at)})
    pipe.expire(key, ttl)
    pipe.execute()


# Read a refresh token and mark it used in one atomic step.
USE_REFRESH_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local first_use = redis.call('HSETNX', KEYS[1], 'used', '1')
return {redis.call('HGET', KEYS[1], 'user_id'), redis.call('HGET', KEYS[1], 'family'), first_use,
        redis.call('HGET', KEYS[1], 'issued_at')}
"""


@unavailable_on_failure
def use_refresh_token(store: RedisStore, token: str) -> RefreshRecord | None:
    """Mark the token used; None if it is unknown or expired."""
    use = store.client.register_script(USE_REFRESH_SCRIPT)
    key = store.key("refresh", _digest(token))
    found = store.write_confirmed(lambda client: use(keys=[key], client=client))
    if not found:
        return None
    user_id, family, first_use, *issued_at = found  # Lua's nil ends the list: no issued_at
    return RefreshRecord(
        int(user_id), family, bool(first_use), float(issued_at[0] if issued_at else 0)
    )


@unavailable_on_failure
def revoke_refresh_family(store: RedisStore, family: str, *, ttl: int) -> None:
    key = store.key("refresh-family-revoked", family)
    store.write_confirmed(lambda client: client.set(key, "1", ex=ttl))


@unavailable_on_failure
def refresh_family_revoked(store: RedisStore, family: str) -> bool:
    return store.client.exists(store.key("refresh-family-revoked", family)) == 1


@unavailable_on_failure
def refresh_token_family(store: RedisStore, token: str) -> str | None:
    return store.client.hget(store.key("refresh", _digest(token)), "family")  # pyright: ignore[reportReturnType] -- decode_responses=True: Redis answers str, never bytes
