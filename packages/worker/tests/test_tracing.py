"""A queued job's spans join the trace of the request that queued it, relayed or not.

The request is a span of the test's own (no web stack here), the job is recorded in
the outbox with the article, queued on RQ, and run by RQ's worker in this process
through the worker's entry point, with tracing on and the SDK's in-memory exporter.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from rq import Queue, SimpleWorker

from imflask_controllers import articles, background, notifications, profiles, users
from imflask_core import tracing
from imflask_models.redis import jobs
from imflask_worker import run


@pytest.fixture
def traced(ctx, make_context, monkeypatch):
    """``(queued, exporter)``: a context that queues its jobs, built with tracing on, and
    the worker's entry point running on it."""
    exporter = InMemorySpanExporter()
    tracing.start(ctx.settings, exporter=exporter)
    try:
        queued = make_context(jobs_inline=False)
        monkeypatch.setattr(run, "process_context", lambda: queued)
        yield queued, exporter
    finally:
        tracing.stop()


def sign_up(ctx, name):
    token = users.register_user(
        ctx, username=name, email=f"{name}@x.io", password="password1", client_ip="test"
    ).token
    return users.authenticate(ctx, token).user


def publish_in_a_request(ctx, author, title):
    """Publish as a request would: inside a server span; return that span."""
    provider = tracing.provider()
    assert provider is not None
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("POST /api/articles", kind=SpanKind.SERVER) as request:
        articles.create_article(
            ctx, author=author, title=title, description="d", body="b", tags=["t"]
        )
    return request


def work_off(ctx) -> None:
    """RQ's worker, in this process, until the queue is empty."""
    connection = ctx.stores.redis.queue_client
    queue = Queue(ctx.settings.jobs_queue, connection=connection)
    SimpleWorker([queue], connection=connection).work(burst=True)


def job_spans(exporter):
    return {s.name: s for s in exporter.get_finished_spans() if s.kind == SpanKind.CONSUMER}


@pytest.fixture
def author(traced):
    queued, _ = traced
    writer = sign_up(queued, "author")
    profiles.follow_user(queued, username="author", follower=sign_up(queued, "fan"))
    return writer


def test_a_queued_job_and_the_jobs_it_queues_join_the_requests_trace(traced, author, monkeypatch):
    queued, exporter = traced
    monkeypatch.setattr(notifications, "FAN_OUT_BATCH", 1)  # two fans: two batch jobs
    profiles.follow_user(queued, username="author", follower=sign_up(queued, "second-fan"))
    request = publish_in_a_request(queued, author, "queued")

    work_off(queued)

    spans = job_spans(exporter)
    assert [s.name for s in exporter.get_finished_spans()].count("job notify_follower_batch") == 2
    fan_out, batch = spans["job notify_followers"], spans["job notify_follower_batch"]
    assert fan_out.context.trace_id == request.get_span_context().trace_id
    assert fan_out.parent is not None
    assert fan_out.parent.span_id == request.get_span_context().span_id
    assert batch.parent is not None
    assert batch.parent.span_id == fan_out.context.span_id
    assert batch.attributes is not None
    assert isinstance(batch.attributes["imflask.outbox_id"], int)
    mongo = [s for s in exporter.get_finished_spans() if s.parent == batch.context]
    assert any((s.attributes or {}).get("db.system") == "mongodb" for s in mongo)


def test_a_job_the_queue_lost_is_relayed_with_its_trace_context(traced, author):
    queued, exporter = traced
    request = publish_in_a_request(queued, author, "relayed")
    jobs.drop_queue(queued.stores.redis, queued.settings.jobs_queue)  # Redis lost its data
    exporter.clear()

    assert background.relay(queued, grace=timedelta(0)) == 1
    relay_spans = exporter.get_finished_spans()
    work_off(queued)

    assert relay_spans == ()  # the relay's own store calls start no trace
    fan_out = job_spans(exporter)["job notify_followers"]
    assert fan_out.context.trace_id == request.get_span_context().trace_id
    assert fan_out.parent is not None
    assert fan_out.parent.span_id == request.get_span_context().span_id
