"""The Conduit web front-end: server-rendered pages over the same controllers as the API.

One ``web`` blueprint; each page area adds its views in its own module
(``home``, ``auth``, ``settings``, ``editor``, ``articles``, ``profiles``).
"""

from __future__ import annotations

from flask import Flask

from imflask_api.errors import register_rate_limit_headers
from imflask_app.web import (  # noqa: F401 - importing a module adds its views to `web`
    articles,
    auth,
    editor,
    home,
    profiles,
    settings,
    templating,
)
from imflask_app.web.blueprint import web
from imflask_app.web.csrf import protect
from imflask_app.web.errors import register_error_pages, register_unknown_url_page

register_rate_limit_headers(web)
web.before_request(protect)
register_error_pages(web)


def register_web(app: Flask) -> None:
    app.register_blueprint(web)
    register_unknown_url_page(app)
