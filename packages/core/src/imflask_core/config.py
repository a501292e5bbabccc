"""Configuration per environment, read from the environment and ``.env``.

This module must not import Flask: the worker and the CLI read the same
settings. ``load_settings()`` is the one way to build a ``Settings``.

Each setting is declared once, on its ``Settings`` field: the type, and in the
field's ``Annotated[...]`` the variable it is read from (a ``Var``: name, meaning,
default or one default per environment, parser that validates it), or a
``Derived`` builder with the variables it reads. ``load_settings()`` reads those
declarations; the README's variable table and ``.env.example`` are generated from
them and a test fails when either drifts::

    uv run python -m imflask_core.config --readme-table   # paste under ## Configuration
    uv run python -m imflask_core.config --env-example > .env.example
"""

from __future__ import annotations

import dataclasses
import functools
import os
import secrets
import sys
import textwrap
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, unquote, urlsplit

from imflask_core.errors import ConfigError

ENVIRONMENTS = ("development", "testing", "production")

# Values that must never sign production tokens.
_PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "dev", "development", "default"}
_MIN_SECRET_LENGTH = 32


# The declarations ------------------------------------------------------------------


@dataclass(frozen=True)
class PerEnv:
    """A default that depends on the environment (the text of the variable in each)."""

    development: str
    testing: str
    production: str


@dataclass(frozen=True)
class Var:
    """One environment variable: its name, what it means, its default and its parser.

    ``default`` is the variable's text when it is unset (None: no default, the reader
    decides; then ``default_doc`` says what happens). ``parse(name, text)`` turns the
    text into the field's value and raises ``ConfigError`` naming the variable.
    ``unset`` says which values count as unset: ``"missing"`` (only an absent
    variable), ``"empty"`` (absent or empty, the usual) or ``"blank"`` (only spaces).
    """

    name: str
    meaning: str
    default: str | PerEnv | None = None
    parse: Callable[[str, str], Any] | None = None
    default_doc: str | None = None
    unset: Literal["missing", "empty", "blank"] = "empty"

    def default_in(self, env: str) -> str | None:
        if isinstance(self.default, PerEnv):
            return getattr(self.default, env)
        return self.default

    def is_unset(self, raw: str | None) -> bool:
        if raw is None:
            return True
        if self.unset == "empty":
            return raw == ""
        return self.unset == "blank" and raw.strip() == ""

    def read(self, source: Source) -> Any:
        text = source.text(self.name)
        if text is None or self.parse is None:
            return text
        return self.parse(self.name, text)


class Derived:
    """A field that ``build(source)`` makes from the variables it ``reads`` (maybe none)."""

    def __init__(self, build: Callable[[Source], Any], *reads: Var):
        self.build = build
        self.reads = reads

    def read(self, source: Source) -> Any:
        return self.build(source)


class Source:
    """The variables of one load (process environment over ``.env``), in one environment."""

    def __init__(self, values: Mapping[str, str], env: str):
        self.values = values
        self.env = env

    def raw(self, name: str) -> str | None:
        """The variable's own text; None when it counts as unset."""
        value = self.values.get(name)
        return None if variable(name).is_unset(value) else value

    def text(self, name: str) -> str | None:
        """The variable's text, or its default in this environment."""
        raw = self.raw(name)
        return variable(name).default_in(self.env) if raw is None else raw

    def read(self, name: str) -> Any:
        """The variable's value, parsed (and validated) by its declaration."""
        return variable(name).read(self)

    @functools.cached_property
    def instance_path(self) -> Path:
        return self.read("FLASK_INSTANCE_PATH")


# Parsers: (variable name, text) -> value, or ConfigError naming the variable -------------


def _positive(kind: type[int] | type[float]) -> Callable[[str, str], Any]:
    def parse(name: str, raw: str) -> int | float:
        try:
            value = kind(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a {kind.__name__}") from None
        if value <= 0:
            raise ConfigError(f"{name}={raw!r} must be greater than 0")
        return value

    return parse


_positive_int = _positive(int)
_positive_float = _positive(float)


def _count(name: str, raw: str) -> int:
    if not raw.isdigit():
        raise ConfigError(f"{name}={raw!r} must be a whole number (0 or more)")
    return int(raw)


def _rate_limit(name: str, raw: str) -> RateLimit:
    try:
        limit = RateLimit.parse(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} must look like COUNT/SECONDS, e.g. 10/60") from None
    if limit.count <= 0 or limit.seconds <= 0:
        raise ConfigError(f"{name}={raw!r} needs a count and seconds above 0")
    return limit


def _list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _items(name: str, raw: str) -> tuple[str, ...]:
    return _list(raw)


def _origins(name: str, raw: str) -> tuple[str, ...]:
    return tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())


def _intervals(name: str, raw: str) -> tuple[int, ...]:
    try:
        intervals = tuple(int(item) for item in _list(raw))
    except ValueError:
        raise ConfigError(f"{name}={raw!r} must be whole seconds, e.g. 2,10,60") from None
    if any(i < 0 for i in intervals):
        raise ConfigError(f"{name}={raw!r} cannot be negative")
    return intervals


def _flag(name: str, raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _level(name: str, raw: str) -> str:
    return raw.strip().upper()


def _path(name: str, raw: str) -> Path:
    return Path(raw).resolve()


def _sentry_dsn(name: str, raw: str) -> str:
    dsn = raw.strip()
    shape = f"{name} must look like https://KEY@HOST/PROJECT (a Sentry DSN)"
    parts = urlsplit(dsn)
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        raise ConfigError(shape) from None
    if parts.scheme not in ("http", "https") or not parts.username or not parts.hostname:
        raise ConfigError(shape)
    if not parts.path.rstrip("/").rpartition("/")[2].isdigit():
        raise ConfigError(f"{name} must end with the project's number, as in https://KEY@HOST/42")
    return dsn


def _environment(name: str, raw: str) -> str:
    env = raw.strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"{name}={env!r} is not one of {', '.join(ENVIRONMENTS)}")
    return env


# Builders of the derived fields (Derived): Source -> value -----------------------


def _environment_name(source: Source) -> str:
    return source.env


def _hash_profile(source: Source) -> str:
    return "fast" if source.env == "testing" else "strong"


def _mysql_uri(source: Source) -> str:
    return source.raw("FLASK_MYSQL_URI") or f"sqlite:///{source.instance_path / 'imflask.sqlite3'}"


def _redis_url(source: Source) -> str | None:
    if source.raw("FLASK_REDIS_SENTINELS"):
        return _sentinel_target(source).url
    if source.raw("FLASK_REDIS_SENTINEL_MASTER"):
        raise ConfigError(
            "FLASK_REDIS_SENTINEL_MASTER is set but FLASK_REDIS_SENTINELS is not; "
            "name the sentinels as host:port,host:port"
        )
    url = source.raw("FLASK_REDIS_URL")
    if url:
        return url
    host = source.raw("FLASK_REDIS_HOST")
    if not host:
        return None
    password = source.raw("FLASK_REDIS_PW")
    auth = f":{quote(password, safe='')}@" if password else ""
    port = source.read("FLASK_REDIS_PORT")
    db = source.text("FLASK_REDIS_DB")
    return f"redis://{auth}{host}:{port}/{db}"


def _secret_key(source: Source) -> str:
    secret = source.raw("FLASK_SECRET_KEY")
    if secret:
        return secret
    if source.env == "testing":
        return secrets.token_urlsafe(48)
    return _local_secret(source.instance_path / "secret_key")


TRACES_SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)


def _sampler(name: str, raw: str) -> str:
    sampler = raw.strip().lower()
    if sampler not in TRACES_SAMPLERS:
        raise ConfigError(f"{name}={raw!r} is not one of {', '.join(TRACES_SAMPLERS)}")
    return sampler


def _ratio(name: str, raw: str) -> float:
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ConfigError(f"{name}={raw!r} must be a ratio from 0 to 1, e.g. 0.1")
    return ratio


def _otlp_protocol(name: str, raw: str) -> str:
    if raw.strip() != "http/protobuf":
        raise ConfigError(f"{name}={raw!r}: IMFlask exports traces over http/protobuf only")
    return raw.strip()


def _http_url(name: str, raw: str) -> str:
    url = raw.strip()
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{name}={raw!r} must be an http:// or https:// URL")
    return url


def _tracing(source: Source) -> TracingSettings | None:
    """On when an OTLP endpoint is named (and the SDK is not disabled); else None."""
    traces = source.read("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    base = source.read("OTEL_EXPORTER_OTLP_ENDPOINT")
    if source.read("OTEL_SDK_DISABLED") or not (traces or base):
        return None
    source.read("OTEL_EXPORTER_OTLP_PROTOCOL")  # refuses a protocol we do not speak
    return TracingSettings(
        endpoint=traces or f"{base.rstrip('/')}/v1/traces",
        service_name=source.read("OTEL_SERVICE_NAME"),
        sampler=source.read("OTEL_TRACES_SAMPLER"),
        sampler_arg=source.read("OTEL_TRACES_SAMPLER_ARG"),
    )


# The settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` requests per ``seconds``."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        count, _, seconds = text.partition("/")
        return cls(int(count), int(seconds))


@dataclass(frozen=True)
class TracingSettings:
    """Where and how this process sends its traces (OpenTelemetry, OTLP over HTTP)."""

    endpoint: str  # the traces URL itself, ``.../v1/traces``
    service_name: str
    sampler: str  # one of TRACES_SAMPLERS
    sampler_arg: float  # the ratio of the ``*traceidratio`` samplers


@dataclass(frozen=True)
class Settings:
    """Everything the app, the CLI and the worker need to know to start.

    Each field declares where it comes from (see the module's docstring); the order
    of the fields is the order of the README's table and of ``.env.example``.
    """

    env: Annotated[
        str,
        Derived(
            _environment_name,
            Var(
                "FLASK_CONFIG",
                "`development`, `testing` or `production`",
                default="development",
                parse=_environment,
            ),
        ),
    ]
    secret_key: Annotated[
        str,
        Derived(
            _secret_key,
            Var(
                "FLASK_SECRET_KEY",
                "signs tokens and sessions; production requires 32+ characters",
                default_doc=(
                    "development: generated once into `instance/secret_key` (mode 600); "
                    "testing: random per run"
                ),
            ),
        ),
    ]
    instance_path: Annotated[
        Path,
        Var(
            "FLASK_INSTANCE_PATH",
            "local state: SQLite file, embedded stores' data, development secret",
            default="./instance",
            parse=_path,
        ),
    ]
    mysql_uri: Annotated[
        str,
        Derived(
            _mysql_uri,
            Var(
                "FLASK_MYSQL_URI",
                "`mysql://user:password@host:3306/database`; `sqlite:///path` also works "
                "outside production",
                default_doc="SQLite file `instance/imflask.sqlite3` (not in production)",
            ),
        ),
    ]
    # None: start the embedded MongoDB-wire server
    mongo_uri: Annotated[
        str | None,
        Var(
            "FLASK_MONGO_URI",
            "`mongodb://host:27017/...`",
            default_doc="embedded SecantusDB (not in production)",
        ),
    ]
    mongo_db_name: Annotated[
        str,
        Var(
            "FLASK_MONGO_DB_NAME",
            "MongoDB database name",
            default="imflask",
        ),
    ]
    # redis:// (one server) or redis+sentinel:// (see SentinelTarget); None: embedded Redis.
    redis_url: Annotated[
        str | None,
        Derived(
            _redis_url,
            Var(
                "FLASK_REDIS_URL",
                "`redis://[:password@]host:port/db`; wins over `FLASK_REDIS_HOST`, "
                "`FLASK_REDIS_PORT`, `FLASK_REDIS_PW` and `FLASK_REDIS_DB`",
            ),
            Var(
                "FLASK_REDIS_HOST",
                "Redis host",
                default_doc="embedded redis-server (not in production)",
            ),
            Var("FLASK_REDIS_PORT", "Redis port", default="6379", parse=_positive_int),
            Var("FLASK_REDIS_PW", "Redis password"),
            Var("FLASK_REDIS_DB", "Redis database number", default="0"),
            Var(
                "FLASK_REDIS_SENTINELS",
                "`host:port,host:port` of Redis sentinels, in place of `FLASK_REDIS_URL`/"
                "`FLASK_REDIS_HOST`: every client (cache, rate limits, tokens, queue, workers) "
                "uses the master they name and follows a failover without a restart; "
                "`FLASK_REDIS_PW` and `FLASK_REDIS_DB` apply to the master. See docs/deploy.md",
            ),
            Var(
                "FLASK_REDIS_SENTINEL_MASTER",
                "the service name the sentinels monitor (`sentinel monitor NAME ...`); "
                "required with `FLASK_REDIS_SENTINELS`",
            ),
            Var(
                "FLASK_REDIS_SENTINEL_PW",
                "the sentinels' own password (their `requirepass`), sent to each sentinel "
                "before asking it for the master (unset: they take none); `FLASK_REDIS_PW` "
                "is the master's",
            ),
        ),
    ]
    redis_key_prefix: Annotated[
        str,
        Var(
            "FLASK_REDIS_KEY_PREFIX",
            "prefix of every key the app writes",
            default="imflask:",
        ),
    ]
    store_connect_timeout: Annotated[
        float,
        Var(
            "FLASK_STORE_CONNECT_TIMEOUT",
            "seconds to wait for a connection to any store",
            default="2",
            parse=_positive_float,
        ),
    ]
    store_read_timeout: Annotated[
        float,
        Var(
            "FLASK_STORE_READ_TIMEOUT",
            "seconds to wait for a store's answer",
            default="2",
            parse=_positive_float,
        ),
    ]
    sql_pool_size: Annotated[
        int,
        Var(
            "FLASK_SQL_POOL_SIZE",
            "idle SQL connections kept per process",
            default="8",
            parse=_positive_int,
        ),
    ]
    access_token_ttl: Annotated[
        int,
        Var(
            "FLASK_ACCESS_TOKEN_TTL",
            "access token (JWT) lifetime, seconds",
            default="3600",
            parse=_positive_int,
        ),
    ]
    refresh_token_ttl: Annotated[
        int,
        Var(
            "FLASK_REFRESH_TOKEN_TTL",
            "refresh token (cookie) lifetime, seconds (14 days)",
            default="1209600",
            parse=_positive_int,
        ),
    ]
    max_content_length: Annotated[
        int,
        Var(
            "FLASK_MAX_CONTENT_LENGTH",
            "largest request body in bytes; larger gets 413",
            default="1048576",
            parse=_positive_int,
        ),
    ]
    rate_limit_auth: Annotated[
        RateLimit,
        Var(
            "FLASK_RATE_LIMIT_AUTH",
            "logins and registrations per client address and per account, `COUNT/SECONDS`",
            default=PerEnv(development="1000/60", testing="1000/60", production="10/60"),
            parse=_rate_limit,
        ),
    ]
    rate_limit_writes: Annotated[
        RateLimit,
        Var(
            "FLASK_RATE_LIMIT_WRITES",
            "writes per signed-in user, `COUNT/SECONDS`",
            default=PerEnv(development="10000/60", testing="10000/60", production="60/60"),
            parse=_rate_limit,
        ),
    ]
    cache_ttl: Annotated[
        int,
        Var(
            "FLASK_CACHE_TTL",
            "seconds a cached article, profile or tag list may live",
            default="300",
            parse=_positive_int,
        ),
    ]
    proxy_hops: Annotated[
        int,
        Var(
            "FLASK_PROXY_HOPS",
            "reverse proxies in front of the app whose `X-Forwarded-For`/`-Proto` to trust",
            default="0",
            parse=_count,
        ),
    ]
    # Empty means no origin at all: only an unset variable takes the default.
    cors_origins: Annotated[
        tuple[str, ...],
        Var(
            "FLASK_CORS_ORIGINS",
            "comma-separated origins allowed to call the API, or `*` (explicit origins also "
            "get `Allow-Credentials`)",
            default=PerEnv(development="*", testing="*", production=""),
            parse=_origins,
            unset="missing",
        ),
    ]
    log_level: Annotated[
        str,
        Var(
            "FLASK_LOG_LEVEL",
            "level of IMFlask's own log lines (`DEBUG`, `INFO`, `WARNING`...)",
            default=PerEnv(development="DEBUG", testing="INFO", production="INFO"),
            parse=_level,
        ),
    ]
    log_json: Annotated[
        bool,
        Var(
            "FLASK_LOG_JSON",
            "`1` for one JSON object per log line (time, level, message, request_id, method, "
            "path, status, duration_ms, user_id)",
            default=PerEnv(development="0", testing="0", production="1"),
            parse=_flag,
            unset="blank",
        ),
    ]
    slow_request_ms: Annotated[
        int,
        Var(
            "FLASK_SLOW_REQUEST_MS",
            "a slower request logs a warning with its calls and time per store",
            default="500",
            parse=_positive_int,
        ),
    ]
    # None: no tracing, and no OpenTelemetry module imported (imflask_core.tracing).
    tracing: Annotated[
        TracingSettings | None,
        Derived(
            _tracing,
            Var(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OpenTelemetry collector's OTLP/HTTP base URL (`http://collector:4318`): "
                "setting it turns tracing on; spans go to `<url>/v1/traces`",
                default_doc="none: no tracing",
                parse=_http_url,
            ),
            Var(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "the full URL traces are posted to; wins over `OTEL_EXPORTER_OTLP_ENDPOINT` "
                "(and turns tracing on too)",
                parse=_http_url,
            ),
            Var(
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "OTLP's transport; `http/protobuf` is the one IMFlask ships",
                default="http/protobuf",
                parse=_otlp_protocol,
            ),
            Var("OTEL_SERVICE_NAME", "the traces' `service.name`", default="imflask"),
            Var(
                "OTEL_TRACES_SAMPLER",
                "which traces are kept: `parentbased_traceidratio` with "
                "`OTEL_TRACES_SAMPLER_ARG` keeps that share of requests; "
                f"one of {', '.join(f'`{name}`' for name in TRACES_SAMPLERS)}",
                default="parentbased_always_on",
                parse=_sampler,
            ),
            Var(
                "OTEL_TRACES_SAMPLER_ARG",
                "the ratio (0 to 1) of traces the `*traceidratio` samplers keep",
                default="1.0",
                parse=_ratio,
            ),
            Var(
                "OTEL_SDK_DISABLED",
                "`true` turns tracing off, whatever else is set",
                default="false",
                parse=_flag,
            ),
        ),
    ]
    metrics_allow: Annotated[
        tuple[str, ...],
        Var(
            "FLASK_METRICS_ALLOW",
            "addresses or networks that may read `/metrics` (comma-separated); others get 404",
            default="127.0.0.1,::1",
            parse=_items,
        ),
    ]
    # None: no error reporting, and sentry_sdk is never imported (imflask_core.error_reporting).
    sentry_dsn: Annotated[
        str | None,
        Var(
            "FLASK_SENTRY_DSN",
            "Sentry DSN (`https://KEY@HOST/PROJECT`): unhandled errors and jobs that failed "
            "their last retry are sent there, without bodies, cookies, tokens or passwords",
            default_doc="none: nothing is sent",
            parse=_sentry_dsn,
        ),
    ]
    jobs_inline: Annotated[
        bool,
        Var(
            "FLASK_JOBS_INLINE",
            "`1` to run background jobs inside the request instead of the RQ queue",
            default=PerEnv(development="1", testing="1", production="0"),
            parse=_flag,
            unset="blank",
        ),
    ]
    jobs_queue: Annotated[
        str,
        Var(
            "FLASK_JOBS_QUEUE",
            "the RQ queue's name (the app fills it, the worker empties it)",
            default="imflask",
        ),
    ]
    job_retry_intervals: Annotated[
        tuple[int, ...],
        Var(
            "FLASK_JOB_RETRY_INTERVALS",
            "seconds between a failed job's retries (comma-separated); then the failed registry",
            default="2,10,60",
            parse=_intervals,
        ),
    ]
    job_abandoned_after: Annotated[
        int,
        Var(
            "FLASK_JOB_ABANDONED_AFTER",
            "seconds without a heartbeat after which a started job counts as abandoned and runs "
            "again; workers check every half of it",
            default="20",
            parse=_positive_int,
        ),
    ]
    # One or more replicas, comma-separated (see mysql_replica_uris).
    mysql_replica_uri: Annotated[
        str | None,
        Var(
            "FLASK_MYSQL_REPLICA_URI",
            "read replicas for article lists, the feed and their counts, comma-separated "
            "`mysql://...` (percent-encode a comma in a password; docs/deploy.md)",
            default_doc="none: the primary serves every read",
        ),
    ]
    mysql_replica_max_lag: Annotated[
        float,
        Var(
            "FLASK_MYSQL_REPLICA_MAX_LAG",
            "seconds a replica may lag and still serve reads; more, and it is skipped",
            default="10",
            parse=_positive_float,
        ),
    ]
    auto_migrate: Annotated[
        bool,
        Var(
            "FLASK_AUTO_MIGRATE",
            "`1` to apply migrations and indexes when the app starts",
            default=PerEnv(development="1", testing="0", production="0"),
            parse=_flag,
            unset="blank",
        ),
    ]
    # "strong" uses argon2's recommended parameters; "fast" is for tests only.
    hash_profile: Annotated[str, Derived(_hash_profile)]

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def mysql_replica_uris(self) -> tuple[str, ...]:
        """The read replicas of ``FLASK_MYSQL_REPLICA_URI``, in order (none: the primary)."""
        return _list(self.mysql_replica_uri or "")

    def replace(self, **changes: object) -> Settings:
        """A copy with some fields changed; unknown names are an error."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)


# Variables read by other programs (gunicorn.conf.py, prometheus_client), not by
# load_settings(): in the README's table, not in .env.example (they do not read .env).
OTHER_VARIABLES = (
    Var(
        "PROMETHEUS_MULTIPROC_DIR",
        "where worker processes share metrics (set it for `imflask-worker` too to count its "
        "jobs; either makes the folder if it is missing)",
        default_doc="set by `gunicorn.conf.py`",
    ),
    Var(
        "OTEL_EXPORTER_OTLP_HEADERS",
        "headers sent with each export, `key=value,key=value` (a collector's API key); read by "
        "the OpenTelemetry SDK, like its other variables (`OTEL_RESOURCE_ATTRIBUTES`, "
        "`OTEL_BSP_*`, `OTEL_PROPAGATORS`)",
    ),
    Var(
        "GUNICORN_BIND",
        "address gunicorn listens on (read by `gunicorn.conf.py`)",
        default="0.0.0.0:8000",
    ),
    Var(
        "GUNICORN_WORKERS",
        "gunicorn worker processes (read by `gunicorn.conf.py`)",
        default_doc="2 x CPUs + 1",
    ),
    Var(
        "GUNICORN_TIMEOUT",
        "seconds a gunicorn worker may spend on a request before it is replaced "
        "(read by `gunicorn.conf.py`)",
        default="30",
    ),
)


@functools.cache
def declarations() -> Mapping[str, Var | Derived]:
    """Each ``Settings`` field's declaration, in field order."""
    hints = typing.get_type_hints(Settings, include_extras=True)
    found: dict[str, Var | Derived] = {}
    for field in dataclasses.fields(Settings):
        specs = [
            m
            for m in getattr(hints[field.name], "__metadata__", ())
            if isinstance(m, Var | Derived)
        ]
        if len(specs) != 1:
            raise TypeError(f"Settings.{field.name} needs one Var or Derived in Annotated[...]")
        found[field.name] = specs[0]
    return found


@functools.cache
def variables() -> tuple[Var, ...]:
    """Every variable ``load_settings()`` reads, in the order of the README's table."""
    found: list[Var] = []
    for spec in declarations().values():
        found.extend(spec.reads if isinstance(spec, Derived) else (spec,))
    names = [v.name for v in (*found, *OTHER_VARIABLES)]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise TypeError(f"declared more than once: {', '.join(twice)}")
    return tuple(found)


def variable(name: str) -> Var:
    """The declaration of one variable ``load_settings()`` reads."""
    try:
        return _by_name()[name]
    except KeyError:
        raise KeyError(f"{name} is not declared on a Settings field") from None


@functools.cache
def _by_name() -> dict[str, Var]:
    return {v.name: v for v in variables()}


# Loading ---------------------------------------------------------------------------


def load_settings(
    config_name: str | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | os.PathLike[str] | None = ".env",
) -> Settings:
    """Build the settings of one environment from variables, ``.env`` and defaults.

    Process variables win over ``.env``. Production refuses to start when a
    secret or a store is left on its development default.
    """
    values = _read_environment(environ, dotenv_path)
    config = variable("FLASK_CONFIG")
    name = _environment(
        config.name, config_name or Source(values, "development").text(config.name) or ""
    )
    if name == "production":
        _refuse_production_defaults(values)
    source = Source(values, name)
    # Any: each declaration's parser returns its own field's type.
    fields: dict[str, Any] = {field: spec.read(source) for field, spec in declarations().items()}
    return Settings(**fields)


def _read_environment(
    environ: Mapping[str, str] | None, dotenv_path: str | os.PathLike[str] | None
) -> dict[str, str]:
    values: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


# Redis Sentinel ---------------------------------------------------------------------

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PASSWORD = "sentinel_password"  # noqa: S105 - the URL's one query parameter, a name


@dataclass(frozen=True)
class SentinelTarget:
    """The master of ``service`` as the ``sentinels`` name it, carried in ``redis_url`` as
    ``redis+sentinel://[:password@]host:port,host:port/service/db[?sentinel_password=...]``.

    ``password`` is the master's (and its replicas'), ``sentinel_password`` the
    sentinels' own ``requirepass``: two settings, as a sentinel without a password
    refuses a client that sends one.
    """

    sentinels: tuple[tuple[str, int], ...]
    service: str
    password: str | None = None
    db: int = 0
    sentinel_password: str | None = None

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        query = (
            f"?{SENTINEL_PASSWORD}={quote(self.sentinel_password, safe='')}"
            if self.sentinel_password
            else ""
        )
        service = quote(self.service, safe="")
        return f"{SENTINEL_SCHEME}://{auth}{hosts}/{service}/{self.db}{query}"

    @classmethod
    def from_url(cls, url: str) -> SentinelTarget | None:
        """The target of a ``redis+sentinel://`` URL; None for any other URL."""
        scheme, _, rest = url.partition("://")
        if scheme != SENTINEL_SCHEME:
            return None
        rest, _, query = rest.partition("?")
        netloc, _, path = rest.partition("/")
        auth, _, hosts = netloc.rpartition("@")
        password = unquote(auth.partition(":")[2]) or None
        service, _, db = path.partition("/")
        name, _, value = query.partition("=")
        return cls(
            sentinels=_sentinel_addresses(hosts, f"{url!r}"),
            service=unquote(service),
            password=password,
            db=int(db or 0),
            sentinel_password=unquote(value) if name == SENTINEL_PASSWORD and value else None,
        )


def _sentinel_target(source: Source) -> SentinelTarget:
    if source.raw("FLASK_REDIS_URL"):
        raise ConfigError(
            "FLASK_REDIS_URL and FLASK_REDIS_SENTINELS are both set; "
            "keep one (the sentinels find the master themselves)"
        )
    service = (source.raw("FLASK_REDIS_SENTINEL_MASTER") or "").strip()
    if not service:
        raise ConfigError(
            "FLASK_REDIS_SENTINEL_MASTER is not set; FLASK_REDIS_SENTINELS needs the "
            "service name the sentinels monitor (their `sentinel monitor <name> ...`)"
        )
    db = source.text("FLASK_REDIS_DB") or ""
    if not db.isdigit():
        raise ConfigError(f"FLASK_REDIS_DB={db!r} must be a whole number (0 or more)")
    return SentinelTarget(
        sentinels=_sentinel_addresses(
            source.raw("FLASK_REDIS_SENTINELS") or "", "FLASK_REDIS_SENTINELS"
        ),
        service=service,
        password=source.raw("FLASK_REDIS_PW") or None,
        db=int(db),
        sentinel_password=source.raw("FLASK_REDIS_SENTINEL_PW") or None,
    )


def _sentinel_addresses(raw: str, name: str) -> tuple[tuple[str, int], ...]:
    addresses = []
    for item in _list(raw):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{name}: {item!r} is not host:port (e.g. sentinel-1:26379)")
        addresses.append((host.strip("[]"), int(port)))
    if not addresses:
        raise ConfigError(f"{name}={raw!r} names no sentinel; give host:port,host:port")
    return tuple(addresses)


def _local_secret(path: Path) -> str:
    """Read the development secret, generating it on first use (never committed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        secret = secrets.token_urlsafe(48)
        f.write(secret + "\n")
    return secret


def _refuse_production_defaults(env: Mapping[str, str]) -> None:
    problems = []
    secret = env.get("FLASK_SECRET_KEY", "")
    if secret.strip().lower() in _PLACEHOLDER_SECRETS:
        problems.append("FLASK_SECRET_KEY is not set (or is a placeholder)")
    elif len(secret) < _MIN_SECRET_LENGTH:
        problems.append(f"FLASK_SECRET_KEY is shorter than {_MIN_SECRET_LENGTH} characters")
    mysql_uri = env.get("FLASK_MYSQL_URI", "")
    if not mysql_uri:
        problems.append("FLASK_MYSQL_URI is not set; production needs a real MySQL server")
    elif not mysql_uri.startswith("mysql"):
        problems.append("FLASK_MYSQL_URI must be a mysql:// URI in production, not SQLite")
    if not env.get("FLASK_MONGO_URI"):
        problems.append("FLASK_MONGO_URI is not set; production needs a real MongoDB server")
    redis_named = ("FLASK_REDIS_URL", "FLASK_REDIS_HOST", "FLASK_REDIS_SENTINELS")
    if not any(env.get(name) for name in redis_named):
        problems.append(
            "FLASK_REDIS_URL (or FLASK_REDIS_HOST, or FLASK_REDIS_SENTINELS) is not set; "
            "production needs a real Redis server"
        )
    if problems:
        raise ConfigError(
            "production refuses to start on development defaults:\n  - " + "\n  - ".join(problems)
        )


# The README's table and .env.example, generated from the declarations ----------------


def default_doc(var: Var) -> str:
    """The README's default cell: the text, one per environment, or what happens."""
    if var.default_doc is not None:
        return var.default_doc
    if var.default is None:
        return _NO_DEFAULT
    if isinstance(var.default, str):
        return _code(var.default)
    groups: dict[str, list[str]] = {}
    for env in ENVIRONMENTS:
        groups.setdefault(getattr(var.default, env), []).append(env)
    return ", ".join(f"{_code(text)} in {' and '.join(envs)}" for text, envs in groups.items())


_NO_DEFAULT = "\N{EN DASH}"


def _code(text: str) -> str:
    return f"`{text}`" if text else "none"


def readme_rows() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) of each row of the README's table, in order."""
    return [(v.name, default_doc(v), v.meaning) for v in (*variables(), *OTHER_VARIABLES)]


def readme_table() -> str:
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{name}` | {default} | {meaning} |" for name, default, meaning in readme_rows()]
    return "\n".join(lines) + "\n"


def env_example() -> str:
    """``.env.example``: every variable, commented out on its default."""
    lines = [
        "# IMFlask's settings (the README's Configuration table). Copy to .env and",
        "# uncomment what you change; process variables win over .env.",
        "# Generated: uv run python -m imflask_core.config --env-example > .env.example",
    ]
    for var in variables():
        literal = var.default if isinstance(var.default, str) else None
        notes = [var.meaning]
        if literal is None and default_doc(var) != _NO_DEFAULT:
            notes.append(f"default: {default_doc(var)}")
        lines.append("")
        for note in notes:
            lines += textwrap.wrap(_plain(note), 96, initial_indent="# ", subsequent_indent="# ")
        lines.append(f"# {var.name}={literal or ''}")
    return "\n".join(lines) + "\n"


def _plain(text: str) -> str:
    return text.replace("`", "")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m imflask_core.config",
        description="Print what is generated from the settings' declarations.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--env-example", action="store_true", help="the .env.example file")
    what.add_argument(
        "--readme-table", action="store_true", help="the README's variable table (Markdown)"
    )
    args = parser.parse_args(argv)
    sys.stdout.write(env_example() if args.env_example else readme_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
