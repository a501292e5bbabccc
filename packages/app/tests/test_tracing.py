"""Tracing on, with the SDK's in-memory exporter: the span tree of a request and its job.

``POST /api/articles`` by an author with a follower is one trace: the request's span
(Flask's instrumentation), a child span per store call (sqlite3 or PyMySQL, redis-py),
and the notification job it runs inline, whose own store calls (pymongo) are its
children. The queued and relayed paths are the worker's tests
(``packages/worker/tests/test_tracing.py``); the real OTLP exporter is
``test_tracing_export.py``.
"""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from imflask_app import create_app
from imflask_core import tracing
from imflask_core.observability import JsonFormatter, RequestIdFilter


@pytest.fixture
def traced(make_context):
    """``(client, exporter)``: an app on a context of its own, built with tracing on."""
    exporter = InMemorySpanExporter()
    tracing.start(make_context().settings, exporter=exporter)
    try:
        app = create_app(context=make_context())
        yield app.test_client(), exporter
    finally:
        tracing.stop()


@pytest.fixture
def log_lines():
    """The JSON lines IMFlask's loggers write during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("imflask", "imflask_controllers")]
    for logger in loggers:
        logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for logger in loggers:
        logger.removeHandler(handler)


def sign_up(client, name: str) -> str:
    user = {"username": name, "email": f"{name}@conduit.test", "password": "password1"}
    answer = client.post("/api/users", json={"user": user})
    assert answer.status_code == 201, answer.json
    return answer.json["user"]["token"]


def db_system(span) -> str | None:
    attributes = span.attributes or {}
    return attributes.get("db.system.name") or attributes.get("db.system")


def children_of(spans, parent):
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def test_publishing_is_one_trace_of_the_request_its_store_calls_and_its_job(traced, log_lines):
    client, exporter = traced
    token = sign_up(client, "author")
    fan = sign_up(client, "fan")
    assert client.post("/api/profiles/author/follow", headers={"Authorization": f"Token {fan}"})
    exporter.clear()
    article = {"title": "Traced", "description": "d", "body": "b", "tagList": ["otel"]}

    answer = client.post(
        "/api/articles", json={"article": article}, headers={"Authorization": f"Token {token}"}
    )

    assert answer.status_code == 201
    spans = exporter.get_finished_spans()
    (request,) = [s for s in spans if s.kind == SpanKind.SERVER]
    assert request.name == "POST /api/articles"
    assert request.parent is None
    assert request.attributes is not None
    assert request.attributes["imflask.request_id"] == answer.headers["X-Request-ID"]
    assert request.attributes["http.route"] == "/api/articles"
    assert {s.context.trace_id for s in spans} == {request.context.trace_id}

    sql = "sqlite" if _sqlite(client) else "mysql"
    calls = children_of(spans, request)
    assert {db_system(s) for s in calls} >= {"redis", sql}
    (fan_out,) = [s for s in calls if s.kind == SpanKind.CONSUMER]
    assert fan_out.name == "job notify_followers"
    # one follower fits in one batch: the job notifies them itself (a bigger fan-out's
    # batch jobs join the trace too: packages/worker/tests/test_tracing.py)
    assert {db_system(s) for s in children_of(spans, fan_out)} >= {"mongodb", sql}
    assert all(reaches(spans, s, request) for s in spans)  # one tree

    lines = [line for line in log_lines() if line.get("path") == "/api/articles"]
    assert [line["trace_id"] for line in lines] == [f"{request.context.trace_id:032x}"]


def reaches(spans, span, root) -> bool:
    """Does ``span``'s chain of parents end at ``root``?"""
    by_id = {s.context.span_id: s for s in spans}
    while span.parent is not None:
        span = by_id[span.parent.span_id]
    return span is root


def _sqlite(client) -> bool:
    from imflask_app.factory import context_of

    return context_of(client.application).settings.mysql_uri.startswith("sqlite")


def test_probes_and_metrics_make_no_trace(traced):
    client, exporter = traced

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code in {200, 404}
    assert exporter.get_finished_spans() == ()

    assert client.get("/api/profiles/healthz").status_code == 404  # a name, not a probe
    assert [s.name for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER] == [
        "GET /api/profiles/<username>"
    ]
