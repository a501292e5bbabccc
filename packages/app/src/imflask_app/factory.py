"""``create_app``: settings, the generic Flask app, blueprints and commands, then the stores.

Building the app is cheap; starting its stores is not (development starts the
embedded daemons and applies migrations). ``create_app`` starts them at once for
a server or a test, but under the ``flask`` command only for ``flask run``: the
other commands start them when they need them (``context_of``), so ``flask
--help``, ``flask routes`` or ``flask embedded status`` start nothing. Starting
them is ``bootstrap``'s (``imflask_controllers.context``), as in the worker and
the tests; ``context_of`` is the one way to reach the app's context.
"""

from __future__ import annotations

import threading

from flask import Flask

from imflask_api import register_api
from imflask_api.deps import CONTEXT_KEY
from imflask_app.cli import (
    ConfigRefused,
    loaded_by_flask_command,
    register_commands,
    starts_stores_on_load,
)
from imflask_app.compression import register_compression
from imflask_app.web import register_web
from imflask_controllers import reads
from imflask_controllers.context import Context, bootstrap
from imflask_core.config import load_settings
from imflask_core.errors import ConfigError
from imflask_core.factory import SETTINGS_KEY, create_flask_app, settings_of

_starting = threading.Lock()


def create_app(
    config_name: str | None = None, *, context: Context | None = None, **overrides: object
) -> Flask:
    """Build the app for ``config_name`` (else ``FLASK_CONFIG``, else development).

    ``overrides`` replace settings by name, e.g. ``create_app("testing", mysql_uri=...)``;
    or ``context`` (from ``bootstrap``) is the app's, with its settings and stores.
    """
    if context is not None and (config_name is not None or overrides):
        raise TypeError("create_app takes a context or settings, not both")
    try:
        settings = context.settings if context else load_settings(config_name).replace(**overrides)
        app = create_flask_app(
            __name__, settings, lambda: context_of(app).stores.readiness_checks()
        )
        register_compression(app)
        register_request_state(app)
        register_api(app)
        register_web(app)
        register_commands(app)
        if context is not None:
            app.extensions[CONTEXT_KEY] = context
        elif starts_stores_on_load():
            start_stores(app)
        else:
            register_start_on_first_request(app)
    except ConfigError as error:
        if loaded_by_flask_command():
            raise ConfigRefused(str(error)) from None
        raise
    return app


def register_request_state(app: Flask) -> None:
    """Each request starts without what the controllers kept of the previous one that
    this thread served (the viewer's write position, ``reads.start_request``)."""
    app.before_request(reads.start_request)


def context_of(app: Flask) -> Context:
    """The controllers' context of ``app``, starting its stores if nothing has yet."""
    return app.extensions.get(CONTEXT_KEY) or start_stores(app)


def start_stores(app: Flask, *, migrate: bool | None = None) -> Context:
    """``bootstrap`` the app's context from its settings (``migrate``: see there). Once."""
    with _starting:
        if CONTEXT_KEY in app.extensions:
            return app.extensions[CONTEXT_KEY]
        ctx = bootstrap(settings_of(app), migrate=migrate, web=True)
        app.extensions[SETTINGS_KEY] = ctx.settings  # the embedded stores' URIs filled in
        app.extensions[CONTEXT_KEY] = ctx
        return ctx


def register_start_on_first_request(app: Flask) -> None:
    """For an app the flask command built without its stores (``flask shell``, say)."""

    @app.before_request
    def start_stores_first() -> None:
        if CONTEXT_KEY not in app.extensions:
            start_stores(app)
