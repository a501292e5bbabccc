"""IMFlask API: the HTTP layer. Views parse, call one controller, shape the response."""

from __future__ import annotations

from flask import Flask

from imflask_api.auth import auth
from imflask_api.docs import docs, document_health_checks
from imflask_api.v1 import v1

# The RealWorld contract lives under /api; the same blueprints answer under /api/v1.
PREFIXES = {"api": "/api", "v1": "/api/v1"}


def register_api(app: Flask) -> None:
    for name, prefix in PREFIXES.items():
        app.register_blueprint(auth, url_prefix=prefix, name=f"{name}_auth")
        app.register_blueprint(v1, url_prefix=prefix, name=f"{name}_v1")
    app.register_blueprint(docs)  # /api/openapi.json and /api/docs, once
    document_health_checks(app)
