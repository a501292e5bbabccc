"""Logs, request ids, store timings and Prometheus metrics, shared by app and worker.

No Flask here: the worker logs and counts through the same functions. The
current request (or job) is carried in context variables, so a model's store
call can add its time to "this request" without knowing what a request is.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

from imflask_core import tracing

request_id_var: ContextVar[str | None] = ContextVar("imflask_request_id", default=None)
_store_times: ContextVar[dict[str, list[float]] | None] = ContextVar(
    "imflask_store_times", default=None
)

HTTP_REQUESTS = Counter(
    "imflask_http_requests_total", "HTTP requests answered", ["method", "endpoint", "status"]
)
HTTP_LATENCY = Histogram(
    "imflask_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "endpoint"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
STORE_LATENCY = Histogram(
    "imflask_store_call_duration_seconds",
    "Time of one call to a store",
    ["store"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2),
)
STORE_ERRORS = Counter("imflask_store_errors_total", "Store calls that failed", ["store"])
STORE_BREAKER_TRIPS = Counter(
    "imflask_store_breaker_trips_total", "Times a store's breaker opened (per process)", ["store"]
)
JOBS = Counter("imflask_jobs_total", "Background jobs run, by outcome", ["job", "outcome"])
# Reads that may go to a MySQL replica, by where they ran: ``replica``, ``primary-behind``
# (no fit replica had applied what the reader must see) or ``primary-no-replica`` (none
# answered and lagged at most the max lag).
REPLICA_READS = Counter(
    "imflask_replica_reads_total", "Replica-eligible reads, by where they ran", ["served_by"]
)
# Cache-aside lookups by family and result (hit, miss): the list cache's hit rate.
CACHE_LOOKUPS = Counter(
    "imflask_cache_lookups_total", "Cache lookups, by family and result", ["family", "result"]
)


def metrics_text() -> bytes:
    """Every metric in Prometheus' text format, summed over processes in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


@contextmanager
def store_call(store: str) -> Iterator[None]:
    """Time one store call: for the metrics, and for the current request's slow log."""
    started = time.perf_counter()
    try:
        yield
    except Exception:
        STORE_ERRORS.labels(store).inc()
        raise
    finally:
        elapsed = time.perf_counter() - started
        STORE_LATENCY.labels(store).observe(elapsed)
        times = _store_times.get()
        if times is not None:
            times[store].append(elapsed)


def start_store_timings() -> None:
    _store_times.set(defaultdict(list))


def store_timings() -> dict[str, dict[str, float]]:
    """This request's store calls so far: ``{"mysql": {"calls": 3, "ms": 1.2}, ...}``."""
    times = _store_times.get() or {}
    return {
        store: {"calls": len(values), "ms": round(sum(values) * 1000, 2)}
        for store, values in times.items()
    }


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (of the request or job being served) to every record, and with
    tracing on the ``trace_id`` and ``span_id`` of the span it is logged in."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        ids = tracing.log_ids()
        if ids is not None and not hasattr(record, "trace_id"):
            record.trace_id, record.span_id = ids
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log collectors parse without rules."""

    FIELDS = (
        "request_id",
        "trace_id",
        "span_id",
        "method",
        "path",
        "status",
        "duration_ms",
        "user_id",
        "stores",
        "job",
    )

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in self.FIELDS:
            value = getattr(record, field, None)
            if value is not None and value != "-":
                line[field] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


HUMAN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

# C0 and C1 controls, DEL and Unicode's line and paragraph separators, as their escapes: a
# path, header or message carrying them cannot end a log line or drive a terminal.
_CONTROL_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)]}
_CONTROL_ESCAPES |= {0x2028: "\\u2028", 0x2029: "\\u2029"}


def escape_controls(text: str) -> str:
    """``text`` on one line: every control character written as its ``\\xNN`` escape."""
    return text.translate(_CONTROL_ESCAPES)


class TextFormatter(logging.Formatter):
    """HUMAN_FORMAT, a record per line: what the record carries is escaped, and the lines of
    a traceback are indented, so only a record's own first line starts at the margin."""

    def __init__(self) -> None:
        super().__init__(HUMAN_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        text = escape_controls(self.formatMessage(record))
        if record.exc_info:
            text += "\n" + _indented(self.formatException(record.exc_info))
        elif record.exc_text:
            text += "\n" + _indented(record.exc_text)
        if record.stack_info:
            text += "\n" + _indented(self.formatStack(record.stack_info))
        return text


def _indented(text: str) -> str:
    return "\n".join("    " + escape_controls(line) for line in text.splitlines())


# werkzeug's request log (``flask run``): query values that may be credentials, and colours.
_SECRET_QUERY_VALUE = re.compile(
    r"(?i)([?&;][^=&;\s\"]*(?:token|key|secret|passw|auth|session|sig|code|jwt|credential)"
    r"[^=&;\s\"]*=)[^&;\s\"]*"
)
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")  # a JSON Web Token under any name
_ANSI_STYLE = re.compile(r"\x1b\[[0-9;]*m")
REDACTED = "[redacted]"


class DevServerLogFilter(logging.Filter):
    """werkzeug's log lines without secrets from query strings and without ANSI colours
    (the text formatter would print them escaped). IMFlask's own request line never has
    the query string: it logs ``request.path``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = _ANSI_STYLE.sub("", record.getMessage())
        message = _SECRET_QUERY_VALUE.sub(rf"\g<1>{REDACTED}", message)
        record.msg, record.args = _JWT.sub(REDACTED, message), None
        return True


def configure_logging(level: str, *, json_lines: bool) -> None:
    """IMFlask's loggers at ``level`` in JSON or human form; libraries at WARNING."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    for name in ("imflask", "imflask_models", "imflask_controllers", "imflask_worker"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    dev_server = logging.getLogger("werkzeug")
    if not any(isinstance(f, DevServerLogFilter) for f in dev_server.filters):
        dev_server.addFilter(DevServerLogFilter())
