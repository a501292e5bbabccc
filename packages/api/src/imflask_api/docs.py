"""The API's documentation: its OpenAPI document as JSON and a Swagger UI page rendering it.

The document is ``openapi.yaml`` beside this module, read once. The page's assets are
shipped in ``static/docs`` (no CDN) and its script is a file, so a strict CSP holds.
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from typing import Any

import yaml
from flask import Blueprint, Response, render_template_string, url_for

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


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, parsed from ``openapi.yaml`` once per process."""
    text = files("imflask_api").joinpath("openapi.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@functools.cache
def _document_json() -> str:
    return json.dumps(openapi_document(), ensure_ascii=False, separators=(",", ":"))


@docs.get("/openapi.json")
def openapi_json():
    """The OpenAPI 3.1 document of this API."""
    return Response(_document_json(), mimetype="application/json")


@docs.get("/docs")
def api_docs():
    """A Swagger UI page rendering the OpenAPI document."""
    html = render_template_string(
        PAGE,
        spec_url=url_for("docs.openapi_json"),
        asset=lambda name: url_for("docs.static", filename=name),
    )
    return Response(html, mimetype="text/html", headers={"Content-Security-Policy": PAGE_CSP})
