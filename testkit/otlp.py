"""A small OTLP/HTTP trace receiver on 127.0.0.1, for tests and the tracing benchmark.

It accepts ``POST /v1/traces`` as an OpenTelemetry collector does (protobuf, gzip or
not), answers an empty ``ExportTraceServiceResponse``, and keeps every span it was
sent, decoded with ``opentelemetry-proto`` (``decode=False``: it only counts them,
as the benchmark's sink).
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: int  # opentelemetry.proto's Span.SpanKind: 2 server, 3 client, 5 consumer
    trace_id: str  # hex, as log lines carry it
    span_id: str
    parent_span_id: str  # "" for a root
    attributes: dict[str, object] = field(default_factory=dict)


class OtlpReceiver:
    """``with OtlpReceiver.running() as receiver``: ``receiver.endpoint`` to export to."""

    def __init__(self, *, decode: bool = True) -> None:
        self.decode = decode
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self.bytes = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def endpoint(self) -> str:
        """The base URL (``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @classmethod
    @contextmanager
    def running(cls, *, decode: bool = True) -> Iterator[OtlpReceiver]:
        receiver = cls(decode=decode)
        thread = threading.Thread(target=receiver._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield receiver
        finally:
            receiver._server.shutdown()
            receiver._server.server_close()
            thread.join(timeout=10)

    def wait_for(self, found: Callable[[list[ReceivedSpan]], bool], seconds: float = 30) -> bool:
        """Wait (at most ``seconds``) until ``found(spans)``; return whether it was."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if found(list(self.spans)):
                    return True
            time.sleep(0.05)
        return False

    def _received(self, body: bytes) -> None:
        if not self.decode:
            with self._lock:
                self.requests += 1
                self.bytes += len(body)
            return
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            service = str(resource.get("service.name", ""))
            for scope_spans in resource_spans.scope_spans:
                spans += [
                    ReceivedSpan(
                        service=service,
                        name=span.name,
                        kind=span.kind,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        attributes=_attributes(span.attributes),
                    )
                    for span in scope_spans.spans
                ]
        with self._lock:
            self.requests += 1
            self.bytes += len(body)
            self.spans += spans

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver._received(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")  # an empty ExportTraceServiceResponse
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the test reads the spans

        return Handler


def _attributes(pairs) -> dict[str, object]:
    found: dict[str, object] = {}
    for pair in pairs:
        which = pair.value.WhichOneof("value")
        found[pair.key] = getattr(pair.value, which) if which else None
    return found
