"""What every use case needs, and ``bootstrap``: the one way a process builds it.

The app (``imflask_app.factory``), the ``flask`` commands, ``imflask-worker`` and
the tests all start with ``bootstrap``; none of them needs Flask to do so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY

from imflask_core import error_reporting, tracing
from imflask_core.config import Settings, load_settings
from imflask_core.embedded import with_embedded_stores
from imflask_models.stores import Stores

log = logging.getLogger(__name__)


@dataclass
class Context:
    settings: Settings
    stores: Stores
    passwords: PasswordHasher

    @classmethod
    def create(cls, settings: Settings) -> Context:
        """Settings must already name every store (``bootstrap`` resolves them)."""
        profile = CHEAPEST if settings.hash_profile == "fast" else RFC_9106_LOW_MEMORY
        return cls(
            settings=settings,
            stores=Stores.from_settings(settings),
            passwords=PasswordHasher.from_parameters(profile),
        )

    def close(self) -> None:
        self.stores.close()


def bootstrap(
    settings: Settings | None = None, *, migrate: bool | None = None, web: bool = False
) -> Context:
    """Settings (``load_settings()`` from the environment unless given), tracing when
    they turn it on (``imflask_core.tracing``, before any store client exists), error
    reporting with ``FLASK_SENTRY_DSN`` (``imflask_core.error_reporting``; ``web``: the
    process serves HTTP with Flask), the embedded stand-ins started for the stores they
    leave unset (development only), the stores' clients (connected on first use) and the
    context; then, when ``migrate`` (by default ``FLASK_AUTO_MIGRATE``), the pending
    migrations and indexes applied.

    Raises ``ConfigError`` for a setting that cannot work, ``StoreUnavailable`` when
    migrating and a store does not answer.
    """
    resolved = with_embedded_stores(load_settings() if settings is None else settings)
    tracing.start(resolved)
    error_reporting.start(resolved, web=web)
    ctx = Context.create(resolved)
    if resolved.auto_migrate if migrate is None else migrate:
        try:
            upgrade(ctx)
        except BaseException:
            ctx.close()
            raise
    return ctx


def upgrade(ctx: Context) -> dict[str, list[str]]:
    """Apply the pending SQL migrations and ensure the Mongo indexes; return what was done."""
    done = ctx.stores.upgrade()
    if done["sql_migrations"]:
        log.info("applied migrations: %s", ", ".join(done["sql_migrations"]))
    return done
