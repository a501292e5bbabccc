"""The API's documentation: its OpenAPI document as JSON and a Swagger UI page rendering it.

The document is generated from the app's views (``openapi.document``) on its first
request, then kept. The page's assets are shipped in ``static/docs`` (no CDN) and its
script is a file, so a strict CSP holds.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template_string, url_for

from imflask_api import responses
from imflask_api.openapi import Answer, document, operation

docs = Blueprint(
    "docs",
    __name__,
    url_prefix="/api",
    static_folder="static/docs",
    static_url_path="/docs/static",
)

# Only this origin's scripts, styles and data; Swagger UI draws its icons from data: URIs.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>IMFlask API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{ asset('swagger-ui.css') }}">
</head>
<body>
<div id="swagger-ui" data-spec-url="{{ spec_url }}"></div>
<script src="{{ asset('swagger-ui-bundle.js') }}"></script>
<script src="{{ asset('swagger-init.js') }}"></script>
</body>
</html>
"""


DOCUMENT_KEY = "imflask.openapi"


def openapi_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of ``app``, generated once per app."""
    if DOCUMENT_KEY not in app.extensions:
        app.extensions[DOCUMENT_KEY] = document(app)
    return app.extensions[DOCUMENT_KEY]


def document_health_checks(app: Flask) -> None:
    """Describe core's ``/healthz`` and ``/readyz`` (core knows nothing of OpenAPI)."""
    health = {"tag": "Health", "security": [], "root": True}
    if "healthz" in app.view_functions:
        operation(
            operation_id="Healthz",
            answers=(200, responses.Liveness),
            touches_stores=False,
            summary="Liveness\n\nThe process answers; no store is touched.",
            **health,
        )(app.view_functions["healthz"])
    if "readyz" in app.view_functions:
        operation(
            operation_id="Readyz",
            answers=[
                Answer(200, responses.Readiness, "Every store answers."),
                Answer(503, responses.Readiness, "At least one store does not answer."),
            ],
            summary="Readiness\n\nEach store's state; 200 when every one answers, else 503.",
            **health,
        )(app.view_functions["readyz"])


@docs.get("/openapi.json")
@operation(
    "Documentation",
    "GetOpenApiDocument",
    answers=(200, responses.OpenApiDocument),
    security=[],
    root=True,
    touches_stores=False,
)
def openapi_json():
    """This document

    The OpenAPI 3.1 description of this API, as JSON, generated from the code.
    """
    text = json.dumps(openapi_document(current_app), ensure_ascii=False, separators=(",", ":"))
    return Response(text, mimetype="application/json")


@docs.get("/docs")
@operation(
    "Documentation",
    "GetApiDocs",
    answers=Answer(200, None, "An HTML page.", media_type="text/html"),
    security=[],
    root=True,
    touches_stores=False,
)
def api_docs():
    """Interactive documentation

    A Swagger UI page rendering this document; its assets are served locally.
    """
    html = render_template_string(
        PAGE,
        spec_url=url_for("docs.openapi_json"),
        asset=lambda name: url_for("docs.static", filename=name),
    )
    return Response(html, mimetype="text/html", headers={"Content-Security-Policy": PAGE_CSP})
