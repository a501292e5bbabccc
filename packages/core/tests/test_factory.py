"""The generic factory: JSON errors, request ids, CORS, health and readiness."""

from __future__ import annotations

import json
import re

import pytest
from flask import Flask

from imflask_core.config import load_settings
from imflask_core.errors import StoreUnavailable
from imflask_core.factory import create_flask_app


def make(tmp_path, checks=None, **env) -> Flask:
    settings = load_settings(
        "testing", environ={"FLASK_INSTANCE_PATH": str(tmp_path), **env}, dotenv_path=None
    )
    app = create_flask_app(__name__, settings, lambda: checks or {})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail")

    @app.get("/store-down")
    def store_down():
        raise StoreUnavailable("mongo", "timed out")

    @app.post("/echo")
    def echo():
        from flask import request

        return {"size": len(request.get_data())}

    return app


def test_healthz_answers_without_touching_any_store(tmp_path):
    def never():
        raise AssertionError("healthz must not call a readiness check")

    response = make(tmp_path, {"mysql": never}).test_client().get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_200_when_every_store_answers(tmp_path):
    client = make(tmp_path, {"mysql": lambda: True, "redis": lambda: True}).test_client()

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json() == {"mysql": "ok", "redis": "ok"}


def test_readyz_is_503_naming_the_store_that_is_down(tmp_path):
    def down():
        raise StoreUnavailable("redis")

    client = make(tmp_path, {"mysql": lambda: True, "redis": down}).test_client()

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.get_json() == {"mysql": "ok", "redis": "down"}


def test_an_unexpected_error_is_a_json_500_without_details(tmp_path):
    response = make(tmp_path).test_client().get("/boom")

    assert response.status_code == 500
    assert response.is_json
    assert "secret detail" not in response.get_data(as_text=True)


def test_a_store_outage_is_a_json_503_with_retry_after(tmp_path, caplog):
    response = make(tmp_path).test_client().get("/store-down")

    assert response.status_code == 503
    assert response.get_json() == {"errors": {"mongo": ["is unavailable, try again shortly"]}}
    assert response.headers["Retry-After"] == "5"


@pytest.mark.parametrize(
    ("method", "path", "status", "errors"),
    [
        ("get", "/nowhere", 404, {"path": ["was not found"]}),
        ("delete", "/healthz", 405, {"method": ["is not allowed here"]}),
    ],
)
def test_http_errors_are_json(tmp_path, method, path, status, errors):
    response = getattr(make(tmp_path).test_client(), method)(path)

    assert response.status_code == status
    assert response.get_json() == {"errors": errors}


def test_a_body_over_the_limit_is_413(tmp_path):
    client = make(tmp_path, FLASK_MAX_CONTENT_LENGTH="100").test_client()

    small = client.post("/echo", data=b"x" * 100)
    large = client.post("/echo", data=b"x" * 101)

    assert small.status_code == 200
    assert large.status_code == 413
    assert large.get_json() == {"errors": {"body": ["is too large (maximum is 100 bytes)"]}}


def test_a_well_formed_request_id_is_echoed(tmp_path):
    response = make(tmp_path).test_client().get("/healthz", headers={"X-Request-ID": "abc-123"})

    assert response.headers["X-Request-ID"] == "abc-123"


@pytest.mark.parametrize("incoming", ["", "x" * 65, "bad id", "evil\r\nheader"])
def test_a_missing_or_malformed_request_id_is_replaced(tmp_path, incoming):
    headers = {"X-Request-ID": incoming} if "\n" not in incoming else {}
    response = make(tmp_path).test_client().get("/healthz", headers=headers)

    assert response.headers["X-Request-ID"] != incoming
    assert len(response.headers["X-Request-ID"]) == 32


def test_cors_preflight_allows_any_origin_by_default_outside_production(tmp_path):
    response = (
        make(tmp_path)
        .test_client()
        .options(
            "/healthz",
            headers={
                "Origin": "http://localhost:4200",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization, Content-Type",
            },
        )
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]


def test_cors_answers_only_configured_origins(tmp_path):
    client = make(tmp_path, FLASK_CORS_ORIGINS="https://conduit.example").test_client()

    allowed = client.get("/healthz", headers={"Origin": "https://conduit.example"})
    other = client.get("/healthz", headers={"Origin": "https://evil.example"})

    assert allowed.headers["Access-Control-Allow-Origin"] == "https://conduit.example"
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in allowed.headers["Vary"]
    assert "Access-Control-Allow-Origin" not in other.headers


# Log lines: one record, one line, whatever a request carries

FORGED = "2026-01-01 00:00:00,000 INFO imflask [-] forged"


def _raise_forged() -> None:
    raise RuntimeError(f"bad input\n{FORGED}")


def test_a_path_with_control_characters_cannot_forge_a_text_log_line(tmp_path, capsys):
    # given the text log (development's), and a route whose error message carries a newline
    app = make(tmp_path, FLASK_LOG_JSON="0", FLASK_LOG_LEVEL="INFO")
    app.add_url_rule("/forge", "forge", _raise_forged)
    client = app.test_client()

    # when paths carry a newline, a carriage return, an escape and a line separator
    client.get(f"/x%0a{FORGED}%0d%1b[2J%E2%80%A8end")
    client.get("/forge")

    # then each record starts its own line; what it carries is escaped, a traceback indented
    lines = capsys.readouterr().err.splitlines()
    assert not [line for line in lines if line.startswith(FORGED)]
    records = [line for line in lines if not line.startswith(" ")]
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ", r) for r in records)
    request_line = next(line for line in records if "GET /x" in line)
    assert f"GET /x\\x0a{FORGED}\\x0d\\x1b[2J\\u2028end 404 " in request_line
    assert any(line.startswith(" ") and FORGED in line for line in lines)  # the traceback's


def test_every_json_log_line_is_one_object_holding_the_path_as_sent(tmp_path, capsys):
    client = make(tmp_path, FLASK_LOG_JSON="1", FLASK_LOG_LEVEL="INFO").test_client()

    client.get(f"/x%0a{FORGED}%0d%E2%80%A8end")

    lines = capsys.readouterr().err.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["path"] for r in records if "path" in r] == [f"/x\n{FORGED}\r\u2028end"]
