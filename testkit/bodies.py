"""Request bodies over real HTTP, framed by a Content-Length or in chunks.

Flask's test client builds the WSGI environ itself; only a real server shows what
``Transfer-Encoding: chunked`` does to a body limit.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

CHUNK = 64 * 1024


def registration(username: str, *, size: int | None = None) -> bytes:
    """A valid ``POST /api/users`` body, padded with trailing spaces to ``size`` bytes."""
    user = {"username": username, "email": f"{username}@conduit.test", "password": "password1"}
    body = json.dumps({"user": user}).encode()
    if size is not None:
        assert size >= len(body), f"a registration is {len(body)} bytes at least"
        body += b" " * (size - len(body))
    return body


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


def post_body(
    base_url: str,
    path: str,
    body: bytes,
    *,
    chunked: bool,
    content_type: str = "application/json",
) -> tuple[int, object]:
    """POST ``body`` as http.client sends it: the status and the JSON (or text) answer."""
    where = urlsplit(base_url)
    connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=30)
    try:
        headers = {"Content-Type": content_type}
        if chunked:
            # A generator has no length: http.client frames it in chunks.
            connection.request(
                "POST", path, body=_chunks(body), headers=headers, encode_chunked=True
            )
        else:
            connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode()
    finally:
        connection.close()
    if response.getheader("Content-Type", "").startswith("application/json"):
        return response.status, json.loads(text)
    return response.status, text
