"""``create_app``: settings, stores, the generic Flask app, blueprints and commands."""

from __future__ import annotations

import logging

from flask import Flask

from imflask_api import register_api
from imflask_api.deps import CONTEXT_KEY
from imflask_app.cli import register_commands
from imflask_app.web import register_web
from imflask_controllers.context import Context
from imflask_core.config import load_settings
from imflask_core.embedded import with_embedded_stores
from imflask_core.factory import create_flask_app

log = logging.getLogger("imflask")


def create_app(config_name: str | None = None, **overrides: object) -> Flask:
    """Build the app for ``config_name`` (else ``FLASK_CONFIG``, else development).

    ``overrides`` replace settings by name, e.g. ``create_app("testing", mysql_uri=...)``.
    """
    settings = load_settings(config_name).replace(**overrides)
    settings = with_embedded_stores(settings)
    ctx = Context.create(settings)
    app = create_flask_app(__name__, settings, ctx.stores.readiness_checks())
    app.extensions[CONTEXT_KEY] = ctx
    register_api(app)
    register_web(app)
    register_commands(app)
    if settings.auto_migrate:
        upgrade_schema(ctx)
    return app


def context_of(app: Flask) -> Context:
    return app.extensions[CONTEXT_KEY]


def upgrade_schema(ctx: Context) -> None:
    done = ctx.stores.upgrade()
    if done["sql_migrations"]:
        log.info("applied migrations: %s", ", ".join(done["sql_migrations"]))
