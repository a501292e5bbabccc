"""Compressed answers for text: pages, CSS, JavaScript, SVG and JSON (Flask-Compress).

Brotli when the client takes it, else gzip; never fonts (woff2 is compressed
already) or raster images; nothing under ``COMPRESS_MIN_SIZE`` bytes, where the
headers cost more than the saving. Every answer says ``Vary: Accept-Encoding``,
and a compressed one gets its own ETag (``"…:br"``), so a cache never hands the
wrong encoding and ``If-None-Match`` still answers 304. Static files, which
Flask streams, are compressed chunk by chunk.

BREACH needs a secret and attacker-chosen text in one compressed body, fetched
with the victim's credentials: the pages' only secret is the CSRF token, and it
is masked afresh in every page (``web.csrf.masked_token``); the API authenticates
with a header a cross-site page cannot make a browser send.
"""

from __future__ import annotations

from flask import Flask
from flask_compress import Compress

COMPRESSED_TYPES = [
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "image/svg+xml",
    "text/plain",
]
ALGORITHMS = ["br", "gzip"]


def register_compression(app: Flask) -> None:
    """Compress the app's text answers; register before the hooks that shape them, so this
    one runs after them (Flask runs ``after_request`` hooks last-registered first)."""
    app.config.update(
        COMPRESS_MIMETYPES=COMPRESSED_TYPES,
        COMPRESS_ALGORITHM=ALGORITHMS,
        COMPRESS_ALGORITHM_STREAMING=ALGORITHMS,
        COMPRESS_MIN_SIZE=500,
        COMPRESS_LEVEL=6,
        COMPRESS_BR_LEVEL=4,
    )
    Compress(app)
