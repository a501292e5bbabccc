"""Optional error reporting to Sentry (``FLASK_SENTRY_DSN``), started by ``bootstrap``.

Without a DSN nothing here imports ``sentry_sdk``. With one, every process reports each
log record at ERROR or above (the logging integration) as an event, with the INFO and
WARNING records before it as its breadcrumbs:

- the app (``web``): an unhandled error in a request, which the factory's error handler
  logs (the client still gets a clean JSON 500), or a store outage's 503; the Flask
  integration adds the request's method, URL, query and headers;
- the worker: a job that failed its last retry, once (RQ's integration); an attempt the
  queue will retry, logged by ``jobs.run`` with a ``job`` field, is only a breadcrumb.

Nothing a user typed or holds as a credential may leave: no request bodies
(``max_request_body_size="never"``), no cookies, client addresses or users
(``send_default_pii=False``), no frame locals (a password is a local of the use case that
hashes it), and ``scrub`` goes over every event before it is sent: credential headers and
cookies removed, secret-named keys and query values, JWTs, ``Token``/``Bearer`` values and
passwords in URLs replaced, and the process's own secrets (``FLASK_SECRET_KEY``, the stores'
passwords) replaced wherever they appear.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from imflask_core.config import SentinelTarget, Settings
from imflask_core.observability import REDACTED

log = logging.getLogger(__name__)

Event = dict[str, Any]

# Headers that carry credentials: dropped whole.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-csrf-token"}
)
# A key whose value may be a credential (a header, a query parameter, an extra, a form field).
_SECRET_NAME = re.compile(
    r"(?i)token|secret|passw|pwd|auth|session|cookie|csrf|credential|jwt|api[-_]?key|signature"
)
# ... and the same in a query string (``a=1&access_token=...``), or a URL's query.
_SECRET_QUERY_VALUE = re.compile(
    r"(?i)((?:^|[?&;])[^=&;\s\"'#()\[\]{}<>,]*(?:token|secret|passw|pwd|auth|session|key|sig|"
    r"code|jwt|credential)[^=&;\s\"'#()\[\]{}<>,]*=)[^&;\s\"'#]*"
)
# ... and in text: ``password='...'``, ``"api_key": "..."``, ``token: ...``.
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b([\w-]*(?:token|secret|passw|pwd|credential|jwt|api[-_]?key)[\w-]*['\"]?\s*[=:]\s*)"
    r"(['\"]?)(?!\[redacted\])[^'\"\s,;&)}\]]+\2"
)
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]*\.[\w-]*")
# A credential after its scheme (``Authorization: Bearer ...``); long, unlike a word.
_SCHEME_VALUE = re.compile(r"\b((?i:token|bearer|basic))\s+[\w.~+/=-]{16,}")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^/\s@]*@")
# A stack frame's lines of source code: the program's text, not data; left readable.
_SOURCE_LINES = frozenset({"pre_context", "context_line", "post_context"})

_started = False


def start(settings: Settings, *, web: bool) -> bool:
    """Start reporting to ``settings.sentry_dsn``, once per process; False without a DSN.

    ``web``: the process serves HTTP with Flask (Flask integration); otherwise it may run
    jobs (RQ integration). Never the other one: the worker must not import Flask.
    """
    global _started
    if not settings.sentry_dsn:
        return False
    if _started:
        return True
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration

    if web:
        from sentry_sdk.integrations.flask import FlaskIntegration

        integration: Any = FlaskIntegration()
    else:
        from sentry_sdk.integrations.rq import RqIntegration

        integration = RqIntegration()
    secrets = secrets_of(settings)
    # Any: the SDK types its hooks with private TypedDicts of its own.
    before_send: Any = scrubber(secrets)
    before_breadcrumb: Any = breadcrumb_scrubber(secrets)
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.env,
        integrations=[
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
            integration,
        ],
        # Only what is named above (and the SDK's defaults): no Flask in a worker.
        auto_enabling_integrations=False,
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
    )
    _started = True
    log.info("reporting errors to Sentry (%s)", urlsplit(settings.sentry_dsn).hostname)
    return True


def secrets_of(settings: Settings) -> tuple[str, ...]:
    """The process's own secrets: the signing key and every password in a store's URI."""
    found = [settings.secret_key]
    uris = [settings.mysql_uri, settings.mongo_uri, *settings.mysql_replica_uris]
    target = SentinelTarget.from_url(settings.redis_url or "")
    if target is not None:
        found += [target.password or "", target.sentinel_password or ""]
    else:
        uris.append(settings.redis_url)
    for uri in uris:
        password = _uri_password(uri or "")
        found += [password, unquote(password)]
    # Under 6 characters a "secret" would redact ordinary words; the other rules remain.
    return tuple(sorted({s for s in found if len(s) >= 6}, key=len, reverse=True))


def _uri_password(uri: str) -> str:
    netloc = uri.partition("://")[2].partition("/")[0]
    auth = netloc.rpartition("@")[0]
    return auth.partition(":")[2]


def scrubber(secrets: Iterable[str] = ()) -> Callable[[Event, Mapping[str, Any]], Event | None]:
    """Sentry's ``before_send``: ``scrub`` every event, drop a job attempt's log record."""
    known = tuple(secrets)

    def before_send(event: Event, hint: Mapping[str, Any]) -> Event | None:
        record = hint.get("log_record")
        if record is not None and getattr(record, "job", None):
            return None  # an attempt the queue retries; RQ reports its last failure
        return scrub(event, known)

    return before_send


def breadcrumb_scrubber(
    secrets: Iterable[str] = (),
) -> Callable[[Event, Mapping[str, Any]], Event | None]:
    """Sentry's ``before_breadcrumb``: the same cleaning for each breadcrumb."""
    known = tuple(secrets)

    def before_breadcrumb(crumb: Event, hint: Mapping[str, Any]) -> Event | None:
        if isinstance(crumb.get("data"), dict):
            crumb["data"] = _plain(crumb["data"])
        return _clean(crumb, known)

    return before_breadcrumb


def scrub(event: Event, secrets: Iterable[str] = ()) -> Event:
    """``event`` with nothing that may be a credential: see the module's docstring."""
    request = event.get("request")
    if isinstance(request, dict):
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                name: value
                for name, value in headers.items()
                if str(name).lower() not in CREDENTIAL_HEADERS
            }
        for part in ("cookies", "data"):
            if part in request:
                request[part] = REDACTED
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        logentry.pop("params", None)  # the formatted message has them, scrubbed below
    if isinstance(event.get("extra"), dict):
        event["extra"] = _plain(event["extra"])
        request_id = event["extra"].get("request_id")
        if isinstance(request_id, str) and request_id != "-":
            event.setdefault("tags", {})["request_id"] = request_id
    modules = event.pop("modules", None)  # package names and versions ("pyjwt": "2.10.1")
    cleaned = _clean(event, tuple(secrets))
    if modules is not None:
        cleaned["modules"] = modules
    return cleaned


def _plain(value: Any) -> Any:
    """JSON's values only: any other object as its ``repr``, so ``_clean`` sees its text
    (the SDK would write the same ``repr`` after ``before_send``, unscrubbed)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def _clean(value: Any, secrets: tuple[str, ...]) -> Any:
    """Every string in ``value`` scrubbed, the value of every secret-named key replaced."""
    if isinstance(value, dict):
        return {k: _clean_entry(k, v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, secrets) for v in value]
    if isinstance(value, str):
        return scrub_text(value, secrets)
    return value


def _clean_entry(key: object, value: Any, secrets: tuple[str, ...]) -> Any:
    if key in _SOURCE_LINES:
        return value
    if isinstance(key, str) and _SECRET_NAME.search(key) and _is_data(value):
        return REDACTED
    return _clean(value, secrets)


def _is_data(value: Any) -> bool:
    """A value a secret-named key may hold as a credential (not one of Sentry's structures)."""
    return isinstance(value, str | bytes | int | float) and not isinstance(value, bool)


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with JWTs, scheme credentials, URL passwords, secret query values and the
    given secrets replaced by ``[redacted]``."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = _JWT.sub(REDACTED, text)
    text = _SCHEME_VALUE.sub(rf"\g<1> {REDACTED}", text)
    text = _URL_PASSWORD.sub(rf"\g<1>:{REDACTED}@", text)
    text = _SECRET_QUERY_VALUE.sub(rf"\g<1>{REDACTED}", text)
    return _SECRET_ASSIGNMENT.sub(rf"\g<1>\g<2>{REDACTED}\g<2>", text)
