"""OpenTelemetry tracing: its settings, its log fields, and its absence when it is off.

The span trees of requests and jobs are the app's and the worker's tests
(``packages/app/tests/test_tracing.py``, ``packages/worker/tests/test_tracing.py``).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from imflask_core import tracing
from imflask_core.config import TracingSettings, load_settings
from imflask_core.errors import ConfigError
from imflask_core.observability import JsonFormatter, RequestIdFilter


def settings(**environ: str):
    return load_settings("testing", environ=environ, dotenv_path=None)


def test_tracing_is_off_without_an_otlp_endpoint():
    assert settings().tracing is None
    assert settings(OTEL_SERVICE_NAME="conduit").tracing is None


def test_an_otlp_endpoint_turns_tracing_on_and_names_the_traces_url():
    on = settings(OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318/")

    assert on.tracing == TracingSettings(
        endpoint="http://collector:4318/v1/traces",
        service_name="imflask",
        sampler="parentbased_always_on",
        sampler_arg=1.0,
    )


def test_the_traces_endpoint_wins_and_the_sampler_is_read():
    on = settings(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://traces:4318/custom",
        OTEL_SERVICE_NAME="conduit",
        OTEL_TRACES_SAMPLER="parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG="0.1",
    )

    assert on.tracing == TracingSettings(
        endpoint="http://traces:4318/custom",
        service_name="conduit",
        sampler="parentbased_traceidratio",
        sampler_arg=0.1,
    )


def test_the_sdk_disabled_flag_wins_over_an_endpoint():
    off = settings(OTEL_EXPORTER_OTLP_ENDPOINT="http://collector:4318", OTEL_SDK_DISABLED="true")

    assert off.tracing is None


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER='sometimes' is not one of"),
        ({"OTEL_TRACES_SAMPLER_ARG": "half"}, "OTEL_TRACES_SAMPLER_ARG='half' must be a ratio"),
        ({"OTEL_TRACES_SAMPLER_ARG": "1.5"}, "OTEL_TRACES_SAMPLER_ARG='1.5' must be a ratio"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL='grpc'"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT="),
    ],
)
def test_bad_tracing_settings_are_refused_naming_the_variable(environ, complaint):
    with pytest.raises(ConfigError, match=complaint):
        settings(**{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", **environ})


def _opentelemetry_modules_after(code: str) -> list[str]:
    code += "\nimport sys\nprint(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    env = {"PATH": "/usr/bin:/bin", "FLASK_CONFIG": "testing"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))


def test_with_tracing_off_imflask_imports_no_opentelemetry():
    """Off costs nothing of ours: building the app and its context, logging a line and
    running a job import only what redis-py imports by itself when OpenTelemetry is
    installed (its metrics SDK, once per process)."""
    app = (
        "from imflask_app import create_app\n"
        "from imflask_controllers import jobs\n"
        "from imflask_core.observability import configure_logging\n"
        "app = create_app('testing', mysql_uri='sqlite:///:memory:',\n"
        "                 mongo_uri='mongodb://127.0.0.1:1', redis_url='redis://127.0.0.1:1/0')\n"
        "configure_logging('INFO', json_lines=True)\n"
        "import logging; logging.getLogger('imflask').info('a line')\n"
        "jobs.register_job('noop')(lambda ctx: None)\n"
        "jobs.run(app.extensions['imflask.context'], 'noop', {})\n"
    )

    imported = _opentelemetry_modules_after(app)

    assert imported == _opentelemetry_modules_after("import redis")
    ours = ("opentelemetry.sdk.trace", "opentelemetry.instrumentation")
    assert not [m for m in imported if m.startswith(ours)]


@pytest.fixture
def spans():
    """Tracing on in this process with an in-memory exporter; off again after the test."""
    exporter = InMemorySpanExporter()
    tracing.start(settings(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9"), exporter=exporter)
    yield exporter
    tracing.stop()


def json_line(message: str) -> dict:
    record = logging.LogRecord("imflask", logging.INFO, __file__, 1, message, None, None)
    RequestIdFilter().filter(record)
    return json.loads(JsonFormatter().format(record))


def test_a_log_line_inside_a_span_carries_its_trace_and_span_ids(spans):
    with tracing.job_span("example", None) as span:
        line = json_line("inside")
    context = span.get_span_context()

    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"
    assert "trace_id" not in json_line("outside")


def test_a_job_span_joins_the_trace_it_was_queued_from(spans):
    with tracing.job_span("request", None):
        carried = tracing.carrier()
    with tracing.job_span("later", carried, outbox_id=7):
        pass

    request, later = sorted(spans.get_finished_spans(), key=lambda s: s.name != "job request")
    assert carried is not None
    assert "traceparent" in carried
    assert later.context.trace_id == request.context.trace_id
    assert later.parent is not None
    assert later.parent.span_id == request.context.span_id
    assert later.attributes is not None
    assert later.attributes["imflask.outbox_id"] == 7


def test_without_tracing_a_job_carries_no_context_and_logs_no_trace_id():
    assert tracing.carrier() is None
    with tracing.job_span("untraced", None) as span:
        assert span is None
        assert "trace_id" not in json_line("untraced")


def test_store_calls_outside_a_request_or_job_make_no_trace(spans):
    """A relay pass or RQ's own polling would each start a trace of one store call."""
    import sqlite3

    connection = sqlite3.connect(":memory:")
    connection.cursor().execute("SELECT 1")
    with tracing.job_span("work", None):
        connection.cursor().execute("SELECT 2")
    connection.close()

    names = [span.name for span in spans.get_finished_spans()]
    assert names.count("job work") == 1
    assert len(names) == 2  # the job and its one SELECT; the first SELECT made none


def test_tracing_never_sets_the_global_tracer_provider(spans):
    """OpenTelemetry's global provider can be set once per process: IMFlask passes its
    own to every instrumentation, so tests start and stop tracing freely."""
    from opentelemetry import trace

    assert tracing.provider() is not None
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
