"""OpenTelemetry tracing, off unless an OTLP endpoint is set (``Settings.tracing``).

``start(settings)`` is called by ``bootstrap`` (every process) and by the app
factory; with tracing off it returns False and nothing of OpenTelemetry is
imported, here or anywhere. With tracing on it makes this process's tracer
provider (its sampler, its OTLP/HTTP exporter) and instruments the drivers with
it: PyMySQL, sqlite3, pymongo and redis-py, so each store call is a child span of
the request or job it serves. The Flask app is instrumented by the factory with
``provider()``. The global tracer provider is never set: the provider is passed
to each instrumentation, so tests can start and stop tracing as often as they like.

A job carries the context of the request that queued it (``carrier()``: the W3C
``traceparent``, stored with the outbox row and in the RQ job's meta), and
``job_span`` continues that trace where the job runs, inline or in the worker.

Gunicorn: ``gunicorn.conf.py`` holds the exporter back in the master
(``hold_exporter_until_fork``) and each worker starts its own after the fork, in
``post_worker_init`` (``start_exporter``), so no exporter thread or connection
crosses a fork.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from imflask_core.config import Settings, TracingSettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import Span, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger("imflask")

TRACER_NAME = "imflask"
# Probes and scrapes would be most of the traces and none of the interest. A pattern the
# instrumentation searches the whole URL for: these paths exactly, not a profile "healthz".
EXCLUDED_URLS = r"^https?://[^/]+/(healthz|readyz|metrics)(\?|$)"

_lock = threading.Lock()
_provider: TracerProvider | None = None
_settings: TracingSettings | None = None
_exporter_held = False  # in a gunicorn master, until a worker's start_exporter
_exporter_pid: int | None = None  # the process whose exporter is attached


def start(settings: Settings, *, exporter: SpanExporter | None = None) -> bool:
    """Turn tracing on in this process, once; return whether it is on.

    ``exporter`` (tests: the SDK's ``InMemorySpanExporter``) replaces the OTLP
    exporter and receives each span as it ends; it turns tracing on whatever the
    settings say.
    """
    global _provider, _settings
    with _lock:
        if _provider is not None:
            return True
        if settings.tracing is None and exporter is None:
            return False
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        chosen = settings.tracing or _IN_MEMORY
        provider = TracerProvider(
            sampler=_sampler(chosen),
            resource=Resource.create({SERVICE_NAME: chosen.service_name}),
        )
        _instrument_drivers(provider)
        _provider, _settings = provider, chosen
        if exporter is not None:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        elif not _exporter_held:
            _attach_otlp_exporter()
        return True


def provider() -> TracerProvider | None:
    """This process's tracer provider, when tracing is on."""
    return _provider


def stop() -> None:
    """Tracing off again (tests): the drivers uninstrumented, the provider shut down."""
    global _provider, _settings, _exporter_pid
    with _lock:
        if _provider is None:
            return
        _uninstrument_drivers()
        _provider.shutdown()
        _provider, _settings, _exporter_pid = None, None, None


def hold_exporter_until_fork() -> None:
    """In a gunicorn master: attach no exporter until ``start_exporter`` in a worker."""
    global _exporter_held
    _exporter_held = True


def start_exporter() -> None:
    """In a gunicorn worker, after the fork and its signal handlers: this process's own
    OTLP exporter (now, if the app was preloaded and tracing is on, or when ``start``
    turns it on)."""
    global _exporter_held
    with _lock:
        _exporter_held = False
        if _provider is not None and _exporter_pid != os.getpid():
            _attach_otlp_exporter()


def carrier() -> dict[str, str] | None:
    """The current trace context as headers (``traceparent``) for a job to carry; None
    when tracing is off or there is no span to continue."""
    if _provider is None:
        return None
    from opentelemetry import propagate

    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers or None


@contextmanager
def job_span(
    name: str, carried: Mapping[str, str] | None, **attributes: str | int
) -> Iterator[Span | None]:
    """The span of one run of the job ``name``, in the trace ``carried`` continues (a new
    trace without one); ``None`` and no span when tracing is off."""
    if _provider is None:
        yield None
        return
    from opentelemetry import propagate, trace

    parent = propagate.extract(dict(carried)) if carried else None
    tracer = _provider.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        f"job {name}",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes={"imflask.job": name, **{f"imflask.{k}": v for k, v in attributes.items()}},
    ) as span:
        yield span  # pyright: ignore[reportReturnType] -- the SDK's provider makes SDK spans


def annotate(**attributes: str | int) -> None:
    """Add ``imflask.<name>`` attributes to the current span (the request's id, say)."""
    if _provider is None:
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({f"imflask.{k}": v for k, v in attributes.items()})


def log_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` in hex of the current span, if it is sampled (exported)."""
    if _provider is None:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


# The parts -------------------------------------------------------------------------

_IN_MEMORY = TracingSettings(
    endpoint="", service_name="imflask", sampler="parentbased_always_on", sampler_arg=1.0
)


def _attach_otlp_exporter() -> None:
    """A batching OTLP/HTTP exporter (its thread is this process's) on the provider."""
    global _exporter_pid
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    assert _provider is not None
    assert _settings is not None
    _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=_settings.endpoint)))
    _exporter_pid = os.getpid()
    log.info("tracing to %s as %s", _settings.endpoint, _settings.service_name)


def _sampler(chosen: TracingSettings):
    from opentelemetry.sdk.trace import sampling

    ratio = sampling.TraceIdRatioBased(chosen.sampler_arg)
    roots = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": ratio,
        "parentbased_always_on": sampling.ParentBased(sampling.ALWAYS_ON),
        "parentbased_always_off": sampling.ParentBased(sampling.ALWAYS_OFF),
        "parentbased_traceidratio": sampling.ParentBased(ratio),
    }
    return _only_inside_work(roots[chosen.sampler])


def _only_inside_work(inner):
    """``inner``, except that a store call outside any request or job starts no trace:
    the outbox relay's passes and RQ's own polling of Redis would each make one."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import sampling

    class OnlyInsideWork(sampling.Sampler):
        def should_sample(self, parent_context, trace_id, name, kind=None, *args, **kwargs):
            parent = trace.get_current_span(parent_context).get_span_context()
            if not parent.is_valid and kind == trace.SpanKind.CLIENT:
                return sampling.SamplingResult(sampling.Decision.DROP)
            return inner.should_sample(parent_context, trace_id, name, kind, *args, **kwargs)

        def get_description(self) -> str:
            return f"OnlyInsideWork{{{inner.get_description()}}}"

    return OnlyInsideWork()


def _instrumentors():
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    from opentelemetry.instrumentation.pymysql import PyMySQLInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

    return [
        PyMySQLInstrumentor(),
        SQLite3Instrumentor(),
        PymongoInstrumentor(),
        RedisInstrumentor(),
    ]


def _instrument_drivers(provider: TracerProvider) -> None:
    for instrumentor in _instrumentors():
        instrumentor.instrument(tracer_provider=provider)


def _uninstrument_drivers() -> None:
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    for instrumentor in _instrumentors():
        instrumentor.uninstrument()
    # pymongo's instrumentor keeps its first command listener (and that listener's tracer)
    # for good, only disabled: forget it so the next start registers one on its provider.
    PymongoInstrumentor()._commandtracer_instance = None
