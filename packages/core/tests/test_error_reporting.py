"""What ``error_reporting`` lets out of an event: no credential, wherever it sits.

The SDK end to end (an app and a worker sending to a receiver) is tested in the app's
and the worker's ``test_error_reporting.py``; here, the scrubber on events shaped as
the SDK makes them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from imflask_core import error_reporting
from imflask_core.config import load_settings
from imflask_core.error_reporting import (
    breadcrumb_scrubber,
    scrub,
    scrub_text,
    scrubber,
    secrets_of,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
SIGNING_KEY = "the-signing-key-" + "s" * 32


class Row:
    def __repr__(self) -> str:
        return f"Row(password_hash='x', link='redis://:hunter22@cache:6379/0', jwt={JWT!r})"


def event() -> dict:
    return {
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "level": "error",
        "logger": "imflask",
        "logentry": {"message": "failed %s", "formatted": f"failed {JWT}", "params": [JWT]},
        "exception": {
            "values": [
                {"type": "ValueError", "value": f"bad key {SIGNING_KEY} in header"},
                {
                    "type": "KeyError",
                    "value": "'token'",
                    "stacktrace": {
                        "frames": [
                            {
                                "function": "authenticate",
                                "context_line": "    token = read_token(password='x') "
                                "if token is None else token",
                            }
                        ]
                    },
                },
            ]
        },
        "request": {
            "url": "http://127.0.0.1/api/user",
            "method": "PUT",
            "query_string": "page=2&access_token=abc.def&apiKey=k1&code=42",
            "headers": {
                "Authorization": f"Token {JWT}",
                "Cookie": "refresh_token=r1; session=s1",
                "X-Request-Id": "r-1",
                "Referer": f"http://127.0.0.1/?token={JWT}",
            },
            "cookies": {"refresh_token": "r1"},
            "data": {"user": {"password": "hunter22"}},
        },
        "extra": {
            "request_id": "r-1",
            "row": Row(),
            "password": "hunter22",
            "stores": {"mysql": {"calls": 3, "ms": 1.5}},
        },
        "breadcrumbs": {
            "values": [{"message": "GET http://app:s3cr3t-pw@db:3306/x", "category": "httplib"}]
        },
        "modules": {"pyjwt": "2.10.1", "flask": "3.1.2"},
    }


def test_credential_headers_cookies_and_bodies_are_removed():
    request = scrub(event())["request"]

    assert request["headers"] == {
        "X-Request-Id": "r-1",
        "Referer": "http://127.0.0.1/?token=[redacted]",
    }
    assert request["cookies"] == "[redacted]"
    assert request["data"] == "[redacted]"
    assert request["url"] == "http://127.0.0.1/api/user"
    assert request["method"] == "PUT"


def test_secret_query_values_are_replaced_and_the_others_kept():
    query = scrub(event())["request"]["query_string"]

    assert query == "page=2&access_token=[redacted]&apiKey=[redacted]&code=[redacted]"


def test_jwts_url_passwords_and_the_processs_own_secrets_are_replaced_anywhere():
    scrubbed = scrub(event(), [SIGNING_KEY])

    assert scrubbed["logentry"] == {"message": "failed %s", "formatted": "failed [redacted]"}
    assert scrubbed["exception"]["values"][0]["value"] == "bad key [redacted] in header"
    assert scrubbed["breadcrumbs"]["values"][0]["message"] == "GET http://app:[redacted]@db:3306/x"
    assert JWT not in repr(scrubbed)
    assert SIGNING_KEY not in repr(scrubbed)
    assert "hunter22" not in repr(scrubbed)
    assert "s3cr3t-pw" not in repr(scrubbed)


def test_extras_are_plain_values_scrubbed_and_secret_named_ones_replaced():
    extra = scrub(event())["extra"]

    assert extra["password"] == "[redacted]"
    assert extra["stores"] == {"mysql": {"calls": 3, "ms": 1.5}}
    assert extra["row"] == (
        "Row(password_hash='[redacted]', link='redis://:[redacted]@cache:6379/0', jwt='[redacted]')"
    )


def test_what_is_no_secret_is_left_as_it_was():
    scrubbed = scrub(event())

    assert scrubbed["timestamp"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert scrubbed["modules"] == {"pyjwt": "2.10.1", "flask": "3.1.2"}
    assert scrubbed["tags"] == {"request_id": "r-1"}
    assert scrubbed["level"] == "error"
    assert scrubbed["exception"]["values"][1]["stacktrace"]["frames"][0] == {
        "function": "authenticate",
        "context_line": "    token = read_token(password='x') if token is None else token",
    }  # a program's source lines are no data: they stay readable
    assert scrub_text(f"Bearer {JWT}") == "Bearer [redacted]"
    assert scrub_text("{'password': 'hunter22', 'user': 'jake'}") == (
        "{'password': '[redacted]', 'user': 'jake'}"
    )
    assert scrub_text("/x?token=[redacted]&a=1") == "/x?token=[redacted]&a=1"
    assert scrub_text("Authorization: Basic dXNlcjpwYXNzd29yZDEyMw==") == (
        "Authorization: Basic [redacted]"
    )


def test_a_job_attempt_logged_by_the_job_runner_is_no_event_of_its_own():
    before_send = scrubber()
    attempt = logging.makeLogRecord({"name": "imflask_controllers.jobs", "job": "notify"})
    unhandled = logging.makeLogRecord({"name": "imflask", "msg": "unhandled error"})

    assert before_send(event(), {"log_record": attempt}) is None
    assert before_send(event(), {"log_record": unhandled}) is not None
    assert before_send(event(), {}) is not None  # RQ's own event of the last failure


def test_the_secrets_of_a_process_are_its_key_and_its_stores_passwords(tmp_path):
    settings = load_settings(
        "testing",
        environ={
            "FLASK_INSTANCE_PATH": str(tmp_path),
            "FLASK_SECRET_KEY": SIGNING_KEY,
            "FLASK_MYSQL_URI": "mysql://app:my%2Fsql-pw@db:3306/conduit",
            "FLASK_MONGO_URI": "mongodb://app:mongo-pw-1@mongo:27017/",
            "FLASK_MYSQL_REPLICA_URI": "mysql://app:replica-pw@r1/conduit",
            "FLASK_REDIS_SENTINELS": "s1:26379",
            "FLASK_REDIS_SENTINEL_MASTER": "imflask",
            "FLASK_REDIS_PW": "redis-master-pw",
            "FLASK_REDIS_SENTINEL_PW": "tiny",
        },
        dotenv_path=None,
    )

    assert set(secrets_of(settings)) == {
        SIGNING_KEY,
        "my%2Fsql-pw",
        "my/sql-pw",
        "mongo-pw-1",
        "replica-pw",
        "redis-master-pw",
    }  # "tiny": too short to tell from a word


def test_without_a_dsn_nothing_starts(tmp_path):
    settings = load_settings(
        "testing", environ={"FLASK_INSTANCE_PATH": str(tmp_path)}, dotenv_path=None
    )

    assert error_reporting.start(settings, web=False) is False


def test_a_breadcrumb_is_cleaned_like_an_event():
    before_breadcrumb = breadcrumb_scrubber([SIGNING_KEY])
    crumb = {
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "category": "imflask",
        "message": f"signed with {SIGNING_KEY}, sent Bearer {JWT}",
        "data": {"row": Row(), "session": "s1", "status": 200},
    }

    cleaned = before_breadcrumb(crumb, {})

    assert cleaned == {
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "category": "imflask",
        "message": "signed with [redacted], sent Bearer [redacted]",
        "data": {
            "row": "Row(password_hash='[redacted]', link='redis://:[redacted]@cache:6379/0', "
            "jwt='[redacted]')",
            "session": "[redacted]",
            "status": 200,
        },
    }
