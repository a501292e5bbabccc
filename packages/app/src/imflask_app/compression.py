"""Compressed answers for text: pages, CSS, JavaScript, SVG and JSON (Flask-Compress).

Brotli when the client takes it, else gzip; never fonts (woff2 is compressed
already) or raster images; nothing under ``MIN_SIZE`` bytes, where the headers
cost more than the saving. Every answer it could compress says ``Vary:
Accept-Encoding``, and a compressed one gets its own ETag (``"…:br"``), so a
cache never hands out the wrong encoding and ``If-None-Match`` still answers
304. Static files, which Flask streams, are compressed chunk by chunk.

BREACH needs a secret and attacker-chosen text in one compressed body, fetched
with the victim's credentials: the pages' only secret is the CSRF token, and it
is masked afresh in every page (``web.csrf.masked_token``); the API authenticates
with a header a cross-site page cannot make a browser send.
"""

from __future__ import annotations

from flask import Flask, Response
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
MIN_SIZE = 500  # bytes: below this the headers cost more than the saving


class TextCompression(Compress):
    """Flask-Compress, measuring a body it holds: a response without a Content-Length
    (a 204 made as ``Response(status=204)``) would otherwise be encoded, and an empty
    body become a few bytes of Brotli or gzip."""

    def after_request(self, response: Response | None) -> Response:
        if response is not None and _small_in_memory(response):
            return response
        return super().after_request(response)


def _small_in_memory(response: Response) -> bool:
    """A body held in memory (not streamed) shorter than ``MIN_SIZE``."""
    return not response.is_streamed and len(response.get_data()) < MIN_SIZE


def register_compression(app: Flask) -> None:
    """Compress the app's text answers; register before the hooks that shape them, so this
    one runs after them (Flask runs ``after_request`` hooks last-registered first)."""
    app.config.update(
        COMPRESS_MIMETYPES=COMPRESSED_TYPES,
        COMPRESS_ALGORITHM=ALGORITHMS,
        COMPRESS_ALGORITHM_STREAMING=ALGORITHMS,
        COMPRESS_MIN_SIZE=MIN_SIZE,
        COMPRESS_LEVEL=6,
        COMPRESS_BR_LEVEL=4,
    )
    TextCompression(app)
