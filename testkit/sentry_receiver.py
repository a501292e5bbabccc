"""A stand-in for Sentry's ingestion on 127.0.0.1, for the error reporting tests.

``SentryReceiver().dsn`` is ``http://public@127.0.0.1:<port>/1``: the real ``sentry_sdk``
pointed at it POSTs envelopes to ``/api/1/envelope/`` (gzip-compressed, or brotli if the
SDK has it, or plain), which the receiver decompresses, keeps as received, and parses
into their items (``events()``: the error events).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

ENVELOPE_PATH = "/api/1/envelope/"


@dataclass
class Item:
    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        return str(self.headers.get("type", ""))

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass
class Envelope:
    headers: dict[str, Any]
    items: list[Item] = field(default_factory=list)


def parse_envelope(body: bytes) -> Envelope:
    """Sentry's envelope format: a JSON header line, then items, each a JSON header line
    and a payload of ``length`` bytes (or, without a length, up to the next newline)."""
    header_line, _, rest = body.partition(b"\n")
    envelope = Envelope(headers=json.loads(header_line))
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        headers = json.loads(item_line)
        if "length" in headers:
            length = int(headers["length"])
            payload, rest = rest[:length], rest[length:]
            if len(payload) != length:
                raise ValueError(f"item of {len(payload)} bytes, its header says {length}")
            rest = rest.removeprefix(b"\n")
        else:
            payload, _, rest = rest.partition(b"\n")
        envelope.items.append(Item(headers=headers, payload=payload))
    return envelope


def decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # the SDK sends br only where brotli is installed (the assets group)

        return brotli.decompress(body)
    raise ValueError(f"unknown Content-Encoding {encoding!r}")


class SentryReceiver:
    """An HTTP server on a free loopback port taking Sentry envelopes; use it as a context."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []  # each request's path, headers and decompressed body
        self.envelopes: list[Envelope] = []
        self.errors: list[str] = []  # requests it could not take, and why
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.port}/1"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def events(self) -> list[dict[str, Any]]:
        """Every error event received so far, in order."""
        with self._lock:
            items = [item for envelope in self.envelopes for item in envelope.items]
        return [item.json() for item in items if item.type == "event"]

    def wait_for_events(self, count: int, seconds: float = 30) -> list[dict[str, Any]]:
        """The events once at least ``count`` have come (or all there are after ``seconds``)."""
        deadline = time.monotonic() + seconds
        while len(self.events()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events()

    def everything(self) -> bytes:
        """Every byte received (paths, headers, decompressed bodies), for a search."""
        with self._lock:
            return b"\n".join(self.raw)

    def _take(self, path: str, headers: str, body: bytes, encoding: str) -> tuple[int, str]:
        if path.partition("?")[0] != ENVELOPE_PATH:
            return self._refuse(404, f"POST to {path}, not {ENVELOPE_PATH}")
        try:
            plain = decompress(body, encoding)
            envelope = parse_envelope(plain)
        except Exception as error:
            return self._refuse(400, f"unreadable envelope: {error!r}")
        with self._lock:
            self.raw.append(path.encode() + b"\n" + headers.encode() + b"\n" + plain)
            self.envelopes.append(envelope)
        return 200, "{}"

    def _refuse(self, status: int, reason: str) -> tuple[int, str]:
        with self._lock:
            self.errors.append(reason)
        return status, json.dumps({"detail": reason})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = receiver._take(
                    self.path, str(self.headers), body, self.headers.get("Content-Encoding", "")
                )
                data = answer.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # no line per envelope in the test's output

        return Handler
