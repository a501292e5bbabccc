"""What operators see: JSON request logs without secrets, slow warnings, metrics, headers."""

from __future__ import annotations

import io
import json
import logging

import pytest

from imflask_core.observability import JsonFormatter, RequestIdFilter

SECRET_PASSWORD = "correct horse battery staple"


@pytest.fixture
def json_log():
    """``read = json_log()`` (after the app exists: it sets its handlers) starts capturing;
    ``read()`` returns every line IMFlask logged since, parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(n) for n in ("imflask", "imflask_controllers", "imflask_models")]

    def start():
        for logger in loggers:
            logger.addHandler(handler)
        return lambda: [json.loads(line) for line in stream.getvalue().splitlines()]

    yield start
    for logger in loggers:
        logger.removeHandler(handler)


def test_request_lines_carry_the_fields_and_never_bodies_passwords_or_tokens(make_app, json_log):
    app = make_app(log_json=True, log_level="INFO")
    read_log = json_log()
    client = app.test_client()
    user = {"username": "jake", "email": "jake@jake.jake", "password": SECRET_PASSWORD}
    token = client.post("/api/users", json={"user": user}).get_json()["user"]["token"]
    client.post("/api/users/login", json={"user": {"email": user["email"], "password": "nope"}})
    refresh = client.post(
        "/api/users/login", json={"user": {"email": user["email"], "password": SECRET_PASSWORD}}
    ).headers["Set-Cookie"]
    client.get("/api/user", headers={"Authorization": f"Token {token}", "X-Request-ID": "abc-1"})
    client.post("/api/auth/refresh")

    lines = read_log()
    logged = json.dumps(lines)
    assert len(lines) >= 5
    for secret in (SECRET_PASSWORD, token, refresh.split(";")[0].split("=", 1)[1]):
        assert secret not in logged
    me = next(line for line in lines if line.get("request_id") == "abc-1")
    assert me["method"] == "GET"
    assert me["path"] == "/api/user"
    assert me["status"] == 200
    assert me["user_id"] > 0
    assert me["duration_ms"] >= 0
    assert me["level"] == "INFO"


def test_a_slow_request_warns_with_its_store_timings(make_app, json_log):
    app = make_app(slow_request_ms=1, log_level="INFO")
    read_log = json_log()
    client = app.test_client()

    client.post(
        "/api/users",
        json={"user": {"username": "jake", "email": "jake@jake.jake", "password": "jakejake"}},
    )

    (slow,) = [line for line in read_log() if line["message"].startswith("slow request")]
    assert slow["level"] == "WARNING"
    assert slow["stores"]["mysql"]["calls"] >= 1
    assert slow["stores"]["mysql"]["ms"] >= 0


def test_metrics_count_requests_and_store_calls_for_allowed_addresses(client):
    client.get("/api/tags")

    allowed = client.get("/metrics")
    other = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})

    assert allowed.status_code == 200
    text = allowed.get_data(as_text=True)
    assert 'imflask_http_requests_total{endpoint="/api/tags",method="GET",status="200"}' in text
    assert 'imflask_store_call_duration_seconds_count{store="mysql"}' in text
    assert "imflask_jobs_total" in text
    assert other.status_code == 404


def test_the_allow_list_takes_networks(make_app):
    client = make_app(metrics_allow=("10.0.0.0/8",)).test_client()

    inside = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    outside = client.get("/metrics")

    assert (inside.status_code, outside.status_code) == (200, 404)


def test_every_response_carries_the_security_headers(client):
    for response in (client.get("/api/tags"), client.get("/nowhere"), client.get("/healthz")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in response.headers


def test_hsts_in_production(make_app):
    response = make_app(env="production").test_client().get("/healthz")

    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
