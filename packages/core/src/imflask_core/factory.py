"""The generic Flask application factory: a list of small register steps.

It knows nothing of IMFlask's stores or blueprints; ``imflask_app`` passes the
readiness checks and registers its blueprints on the app this returns.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping

from flask import Flask, Response, abort, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.middleware.proxy_fix import ProxyFix

from imflask_core import tracing
from imflask_core.body_limit import register_body_limit
from imflask_core.config import Settings
from imflask_core.errors import StoreUnavailable, TransactionConflict
from imflask_core.observability import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    configure_logging,
    metrics_text,
    request_id_var,
    start_store_timings,
    store_timings,
)

log = logging.getLogger("imflask")

# True or "ok", False or "down", or another word ("degraded": reported, still ready).
ReadinessCheck = Callable[[], bool | str]

SETTINGS_KEY = "imflask.settings"

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

# "key message" reads as a sentence, as RealWorld clients show it.
_HTTP_ERRORS = {
    400: ("request", "is malformed"),
    404: ("path", "was not found"),
    405: ("method", "is not allowed here"),
    413: ("body", "is too large"),
    415: ("body", "must be JSON"),
}


def create_flask_app(
    import_name: str,
    settings: Settings,
    readiness_checks: Callable[[], Mapping[str, ReadinessCheck]] | None = None,
) -> Flask:
    """A Flask app with IMFlask's config, JSON errors, request ids, CORS and health routes.

    ``readiness_checks`` is asked for the checks on each ``/readyz``, so the stores
    they ping may be built after the app (the flask command starts them on demand).
    """
    app = Flask(import_name, instance_path=str(settings.instance_path))
    register_config(app, settings)
    register_tracing(app, settings)
    register_body_limit(app)
    register_request_id(app)
    register_logging(app, settings)
    register_metrics(app, settings)
    register_security_headers(app, settings)
    register_cors(app, settings)
    register_error_handlers(app)
    register_health(app, readiness_checks or dict)
    return app


def settings_of(app: Flask) -> Settings:
    return app.extensions[SETTINGS_KEY]


def json_error(status: int, errors: Mapping[str, list[str]], **headers: str) -> Response:
    """An error response in the RealWorld shape: ``{"errors": {"field": ["message"]}}``."""
    response = jsonify({"errors": dict(errors)})
    response.status_code = status
    response.headers.update(headers)
    return response


def register_config(app: Flask, settings: Settings) -> None:
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        TESTING=settings.env == "testing",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
    )
    assert isinstance(app.json, DefaultJSONProvider)  # the provider Flask makes by default
    app.json.sort_keys = False
    app.json.compact = True
    app.extensions[SETTINGS_KEY] = settings
    if settings.proxy_hops:
        # Trust X-Forwarded-For/-Proto from exactly this many proxies, never more:
        # rate limits key on the client address.
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )


def register_tracing(app: Flask, settings: Settings) -> None:
    """With tracing on, one span per request (OpenTelemetry's Flask instrumentation), the
    parent of the store calls' spans; its before_request runs first, so the request id
    lands on it. Probes and ``/metrics`` are left out (``tracing.EXCLUDED_URLS``)."""
    if not tracing.start(settings):
        return
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    FlaskInstrumentor.instrument_app(
        app,
        tracer_provider=tracing.provider(),
        excluded_urls=tracing.EXCLUDED_URLS,
        enable_commenter=False,  # no SQL comments here: no request's context to attach for them
    )


def register_request_id(app: Flask) -> None:
    """Honour a well-formed incoming X-Request-ID or make one; echo it on every response."""

    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else secrets.token_hex(16)
        g.request_started = time.perf_counter()
        request_id_var.set(g.request_id)
        tracing.annotate(request_id=g.request_id)
        start_store_timings()

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id") or secrets.token_hex(16)
        return response


def register_logging(app: Flask, settings: Settings) -> None:
    """One line per request (JSON in production), a warning with store timings when slow.

    Never bodies, passwords or tokens: only method, path, status, timings and ids.
    """
    configure_logging(settings.log_level, json_lines=settings.log_json)
    slow_ms = settings.slow_request_ms

    @app.after_request
    def log_request(response: Response) -> Response:
        started = g.get("request_started")
        duration = time.perf_counter() - started if started else 0.0
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_REQUESTS.labels(request.method, endpoint, response.status_code).inc()
        HTTP_LATENCY.labels(request.method, endpoint).observe(duration)
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(duration * 1000, 1),
            "user_id": g.get("user_id"),
        }
        if duration * 1000 > slow_ms:
            log.warning(
                "slow request %s %s %.0fms",
                request.method,
                request.path,
                duration * 1000,
                extra={**fields, "stores": store_timings()},
            )
        elif log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s %s %.1fms",
                request.method,
                request.path,
                response.status_code,
                duration * 1000,
                extra=fields,
            )
        return response


def register_metrics(app: Flask, settings: Settings) -> None:
    """``/metrics`` in Prometheus' format, for the allowed addresses only (others: 404)."""
    allowed = [ipaddress.ip_network(entry, strict=False) for entry in settings.metrics_allow]

    @app.get("/metrics")
    def metrics() -> Response:
        try:
            client = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            client = None
        if client is None or not any(client in network for network in allowed):
            abort(404)
        return Response(metrics_text(), mimetype=CONTENT_TYPE_LATEST)


def register_security_headers(app: Flask, settings: Settings) -> None:
    """Headers every response carries; HSTS only in production (it needs HTTPS)."""
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Content-Security-Policy", "frame-ancestors 'none'; object-src 'none'; base-uri 'self'"),
    ]
    if settings.is_production:
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        # One pass over the headers (a view may have set its own, e.g. a stricter CSP).
        present = {name.lower() for name, _ in response.headers}
        response.headers.extend([(n, v) for n, v in headers if n.lower() not in present])
        return response


def register_cors(app: Flask, settings: Settings) -> None:
    """CORS for browser clients on other origins (see shared/realworld/backend-cors.md)."""
    origins = set(settings.cors_origins)
    if not origins:
        return
    allow_any = "*" in origins

    @app.after_request
    def add_cors_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if not origin or not (allow_any or origin in origins):
            return response
        if allow_any:
            response.headers["Access-Control-Allow-Origin"] = "*"
        else:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Credentials"] = "true"
            response.vary.add("Origin")
        response.headers["Access-Control-Expose-Headers"] = "X-Request-ID, Retry-After"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = (
                request.headers.get("Access-Control-Request-Headers")
                or "Authorization, Content-Type, X-Request-ID"
            )
            response.headers["Access-Control-Max-Age"] = "600"
        return response


def register_error_handlers(app: Flask) -> None:
    """Every error is JSON in the RealWorld shape; no HTML error page, no traceback."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        key, message = _HTTP_ERRORS.get(error.code or 500, ("request", "failed"))
        if error.code == 413:
            message = f"is too large (maximum is {app.config['MAX_CONTENT_LENGTH']} bytes)"
        response = json_error(error.code or 500, {key: [message]})
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(StoreUnavailable)
    def store_unavailable(error: StoreUnavailable) -> Response:
        log.error("store unavailable: %s %s %s", error, request.method, request.path)
        return json_error(
            503, {error.store: ["is unavailable, try again shortly"]}, **{"Retry-After": "5"}
        )

    @app.errorhandler(TransactionConflict)
    def transaction_conflict(error: TransactionConflict) -> Response:
        # A healthy store that kept losing lock races: busy, not down (no outage logged).
        log.warning("transaction conflict after retries: %s %s", request.method, request.path)
        return json_error(503, {"mysql": ["is busy, try again"]}, **{"Retry-After": "1"})

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        log.exception("unhandled error %s %s", request.method, request.path)
        return json_error(500, {"server": ["failed unexpectedly; the error was logged"]})


def register_health(app: Flask, checks: Callable[[], Mapping[str, ReadinessCheck]]) -> None:
    """``/healthz``: the process answers. ``/readyz``: each store answers."""

    @app.get("/healthz")
    def healthz() -> tuple[dict, int]:
        return {"status": "ok"}, 200

    @app.get("/readyz")
    def readyz() -> tuple[dict, int]:
        # "degraded" (a read replica skipped, say) is reported but still ready.
        report = {name: _safely(check) for name, check in checks().items()}
        return report, 200 if all(v != "down" for v in report.values()) else 503


def _safely(check: ReadinessCheck) -> str:
    """``ok``/``down`` for a check answering a bool; a check may also answer its own word."""
    try:
        answer = check()
    except Exception:
        log.warning("readiness check failed", exc_info=True)
        return "down"
    if isinstance(answer, str):
        return answer
    return "ok" if answer else "down"
