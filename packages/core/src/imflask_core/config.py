"""Configuration per environment, read from the environment and ``.env``.

This module must not import Flask: the worker and the CLI read the same
settings. ``load_settings()`` is the one way to build a ``Settings``; every
variable it reads is listed in ``VARIABLES`` (and in the README).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from imflask_core.errors import ConfigError

ENVIRONMENTS = ("development", "testing", "production")

# Values that must never sign production tokens.
_PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "dev", "development", "default"}
_MIN_SECRET_LENGTH = 32

# name -> (default, description). Defaults of None are resolved below.
VARIABLES: dict[str, tuple[str | None, str]] = {
    "FLASK_CONFIG": ("development", "development, testing or production"),
    "FLASK_SECRET_KEY": (
        None,
        "signs sessions and tokens; development generates one into instance/secret_key",
    ),
    "FLASK_INSTANCE_PATH": ("./instance", "local state: SQLite file, embedded stores, dev secret"),
    "FLASK_MYSQL_URI": (
        None,
        "mysql://user:password@host:3306/db; unset outside production: SQLite file in instance/",
    ),
    "FLASK_MONGO_URI": (None, "mongodb://host:27017; unset outside production: embedded server"),
    "FLASK_MONGO_DB_NAME": ("imflask", "MongoDB database name"),
    "FLASK_REDIS_URL": (None, "redis://[:password@]host:port/db; wins over the HOST/PORT form"),
    "FLASK_REDIS_HOST": (None, "Redis host; unset (and no URL) outside production: embedded"),
    "FLASK_REDIS_PORT": ("6379", "Redis port"),
    "FLASK_REDIS_PW": (None, "Redis password"),
    "FLASK_REDIS_DB": ("0", "Redis database number"),
    "FLASK_REDIS_KEY_PREFIX": ("imflask:", "prefix of every Redis key the app writes"),
    # Redis Sentinel: the master the sentinels name now, followed through failovers.
    "FLASK_REDIS_SENTINELS": (
        None,
        "comma-separated host:port of the Redis sentinels; with FLASK_REDIS_SENTINEL_MASTER "
        "(and FLASK_REDIS_PW, FLASK_REDIS_DB) in place of FLASK_REDIS_URL/HOST",
    ),
    "FLASK_REDIS_SENTINEL_MASTER": (None, "the service name the sentinels monitor"),
    "FLASK_STORE_CONNECT_TIMEOUT": ("2", "seconds to wait for a store connection"),
    "FLASK_STORE_READ_TIMEOUT": ("2", "seconds to wait for a store answer"),
    "FLASK_SQL_POOL_SIZE": ("8", "idle SQL connections kept per process"),
    "FLASK_ACCESS_TOKEN_TTL": ("3600", "lifetime of an access token (JWT), seconds"),
    "FLASK_REFRESH_TOKEN_TTL": ("1209600", "lifetime of a refresh token (cookie), seconds"),
    "FLASK_MAX_CONTENT_LENGTH": ("1048576", "largest request body, bytes (larger: 413)"),
    "FLASK_RATE_LIMIT_AUTH": (
        None,
        "login/registration attempts per client IP and per account, as COUNT/SECONDS; "
        "default 10/60 in production, 1000/60 elsewhere",
    ),
    "FLASK_RATE_LIMIT_WRITES": (
        None,
        "writes per signed-in user, as COUNT/SECONDS; default 60/60 in production, "
        "10000/60 elsewhere",
    ),
    "FLASK_CACHE_TTL": ("300", "seconds a cached article, profile or tag list may live"),
    "FLASK_PROXY_HOPS": ("0", "reverse proxies in front of the app whose X-Forwarded-For to trust"),
    "FLASK_CORS_ORIGINS": (
        None,
        "comma-separated origins allowed to call the API, or *; "
        "default * in development and testing, none in production",
    ),
    "FLASK_LOG_LEVEL": (None, "DEBUG, INFO, WARNING...; default DEBUG in development, else INFO"),
    "FLASK_LOG_JSON": (None, "1 for one JSON object per log line; default 1 in production only"),
    "FLASK_SLOW_REQUEST_MS": ("500", "slower requests log a warning with their store timings"),
    "FLASK_METRICS_ALLOW": (
        "127.0.0.1,::1",
        "client addresses or networks allowed to read /metrics (comma-separated); others get 404",
    ),
    "FLASK_JOBS_INLINE": (
        None,
        "1 to run background jobs inside the request instead of the RQ queue; "
        "default 1 in development and testing, 0 in production",
    ),
    "FLASK_JOBS_QUEUE": ("imflask", "name of the RQ queue the app fills and the worker empties"),
    "FLASK_JOB_RETRY_INTERVALS": (
        "2,10,60",
        "seconds between a failed job's retries (comma-separated); then RQ's failed registry",
    ),
    "FLASK_JOB_ABANDONED_AFTER": (
        "20",
        "seconds without a heartbeat after which a started job counts as abandoned "
        "(its worker died) and is run again; workers also check that often",
    ),
    # MySQL read replicas ---------------------------------------------------------
    "FLASK_MYSQL_REPLICA_URI": (
        None,
        "optional read replicas for list and feed queries, comma-separated mysql://... "
        "(percent-encode a comma in a password); default: the primary",
    ),
    "FLASK_MYSQL_REPLICA_MAX_LAG": (
        "10",
        "seconds a replica may lag behind the primary and still serve reads",
    ),
    # -------------------------------------------------------------------------------
    "FLASK_AUTO_MIGRATE": (
        None,
        "1 to upgrade the schema when the app starts; default 1 in development only",
    ),
}


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
class Settings:
    """Everything the app, the CLI and the worker need to know to start."""

    env: str
    secret_key: str
    instance_path: Path
    mysql_uri: str
    mongo_uri: str | None  # None: start the embedded MongoDB-wire server
    mongo_db_name: str
    # redis:// (one server) or redis+sentinel:// (see SentinelTarget); None: embedded Redis.
    redis_url: str | None
    redis_key_prefix: str
    store_connect_timeout: float
    store_read_timeout: float
    sql_pool_size: int
    access_token_ttl: int
    refresh_token_ttl: int
    max_content_length: int
    rate_limit_auth: RateLimit
    rate_limit_writes: RateLimit
    cache_ttl: int
    proxy_hops: int
    cors_origins: tuple[str, ...]
    log_level: str
    log_json: bool
    slow_request_ms: int
    metrics_allow: tuple[str, ...]
    jobs_inline: bool
    jobs_queue: str
    job_retry_intervals: tuple[int, ...]
    job_abandoned_after: int
    mysql_replica_uri: str | None  # one or more replicas, comma-separated
    auto_migrate: bool
    mysql_replica_max_lag: float = 10.0
    # "strong" uses argon2's recommended parameters; "fast" is for tests only.
    hash_profile: str = "strong"

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


def load_settings(
    config_name: str | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | os.PathLike[str] | None = ".env",
) -> Settings:
    """Build the settings of one environment from variables, ``.env`` and defaults.

    Process variables win over ``.env``. Production refuses to start when a
    secret or a store is left on its development default.
    """
    env = _read_environment(environ, dotenv_path)
    name = (config_name or env.get("FLASK_CONFIG") or "development").strip().lower()
    if name not in ENVIRONMENTS:
        raise ConfigError(f"FLASK_CONFIG={name!r} is not one of {', '.join(ENVIRONMENTS)}")
    if name == "production":
        _refuse_production_defaults(env)

    instance_path = Path(_get(env, "FLASK_INSTANCE_PATH")).resolve()
    return Settings(
        env=name,
        secret_key=_secret_key(env, name, instance_path),
        instance_path=instance_path,
        mysql_uri=env.get("FLASK_MYSQL_URI") or f"sqlite:///{instance_path / 'imflask.sqlite3'}",
        mongo_uri=env.get("FLASK_MONGO_URI") or None,
        mongo_db_name=_get(env, "FLASK_MONGO_DB_NAME"),
        redis_url=_redis_url(env),
        redis_key_prefix=_get(env, "FLASK_REDIS_KEY_PREFIX"),
        store_connect_timeout=_number(env, "FLASK_STORE_CONNECT_TIMEOUT", float),
        store_read_timeout=_number(env, "FLASK_STORE_READ_TIMEOUT", float),
        sql_pool_size=_number(env, "FLASK_SQL_POOL_SIZE", int),
        access_token_ttl=_number(env, "FLASK_ACCESS_TOKEN_TTL", int),
        refresh_token_ttl=_number(env, "FLASK_REFRESH_TOKEN_TTL", int),
        max_content_length=_number(env, "FLASK_MAX_CONTENT_LENGTH", int),
        rate_limit_auth=_rate_limit(
            env, "FLASK_RATE_LIMIT_AUTH", "10/60" if name == "production" else "1000/60"
        ),
        rate_limit_writes=_rate_limit(
            env, "FLASK_RATE_LIMIT_WRITES", "60/60" if name == "production" else "10000/60"
        ),
        cache_ttl=_number(env, "FLASK_CACHE_TTL", int),
        proxy_hops=_count(env, "FLASK_PROXY_HOPS"),
        cors_origins=_cors_origins(env, name),
        log_level=(env.get("FLASK_LOG_LEVEL") or ("DEBUG" if name == "development" else "INFO"))
        .strip()
        .upper(),
        log_json=_flag(env.get("FLASK_LOG_JSON"), default=name == "production"),
        slow_request_ms=_number(env, "FLASK_SLOW_REQUEST_MS", int),
        metrics_allow=_list(_get(env, "FLASK_METRICS_ALLOW")),
        jobs_inline=_flag(env.get("FLASK_JOBS_INLINE"), default=name != "production"),
        jobs_queue=_get(env, "FLASK_JOBS_QUEUE"),
        job_retry_intervals=_intervals(env),
        job_abandoned_after=_number(env, "FLASK_JOB_ABANDONED_AFTER", int),
        mysql_replica_uri=env.get("FLASK_MYSQL_REPLICA_URI") or None,
        auto_migrate=_flag(env.get("FLASK_AUTO_MIGRATE"), default=name == "development"),
        mysql_replica_max_lag=_number(env, "FLASK_MYSQL_REPLICA_MAX_LAG", float),
        hash_profile="fast" if name == "testing" else "strong",
    )


def _read_environment(
    environ: Mapping[str, str] | None, dotenv_path: str | os.PathLike[str] | None
) -> dict[str, str]:
    values: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def _get(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if value is None or value == "":
        default = VARIABLES[name][0]
        assert default is not None, name
        return default
    return value


def _number(env: Mapping[str, str], name: str, kind: type[int] | type[float]) -> int | float:
    raw = _get(env, name)
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be greater than 0")
    return value


def _count(env: Mapping[str, str], name: str) -> int:
    raw = _get(env, name)
    if not raw.isdigit():
        raise ConfigError(f"{name}={raw!r} must be a whole number (0 or more)")
    return int(raw)


def _rate_limit(env: Mapping[str, str], name: str, default: str) -> RateLimit:
    raw = env.get(name) or default
    try:
        limit = RateLimit.parse(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} must look like COUNT/SECONDS, e.g. 10/60") from None
    if limit.count <= 0 or limit.seconds <= 0:
        raise ConfigError(f"{name}={raw!r} needs a count and seconds above 0")
    return limit


def _list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _intervals(env: Mapping[str, str]) -> tuple[int, ...]:
    raw = _get(env, "FLASK_JOB_RETRY_INTERVALS")
    try:
        intervals = tuple(int(item) for item in _list(raw))
    except ValueError:
        raise ConfigError(
            f"FLASK_JOB_RETRY_INTERVALS={raw!r} must be whole seconds, e.g. 2,10,60"
        ) from None
    if any(i < 0 for i in intervals):
        raise ConfigError(f"FLASK_JOB_RETRY_INTERVALS={raw!r} cannot be negative")
    return intervals


def _flag(raw: str | None, *, default: bool) -> bool:
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _redis_url(env: Mapping[str, str]) -> str | None:
    if env.get("FLASK_REDIS_SENTINELS"):
        return _sentinel_target(env).url
    if env.get("FLASK_REDIS_SENTINEL_MASTER"):
        raise ConfigError(
            "FLASK_REDIS_SENTINEL_MASTER is set but FLASK_REDIS_SENTINELS is not; "
            "name the sentinels as host:port,host:port"
        )
    if env.get("FLASK_REDIS_URL"):
        return env["FLASK_REDIS_URL"]
    host = env.get("FLASK_REDIS_HOST")
    if not host:
        return None
    password = env.get("FLASK_REDIS_PW")
    auth = f":{quote(password, safe='')}@" if password else ""
    port = _number(env, "FLASK_REDIS_PORT", int)
    db = _get(env, "FLASK_REDIS_DB")
    return f"redis://{auth}{host}:{port}/{db}"


# Redis Sentinel ---------------------------------------------------------------------

SENTINEL_SCHEME = "redis+sentinel"


@dataclass(frozen=True)
class SentinelTarget:
    """The master of ``service`` as the ``sentinels`` name it, carried in ``redis_url`` as
    ``redis+sentinel://[:password@]host:port,host:port/service/db``."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    password: str | None = None
    db: int = 0

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        return f"{SENTINEL_SCHEME}://{auth}{hosts}/{quote(self.service, safe='')}/{self.db}"

    @classmethod
    def from_url(cls, url: str) -> SentinelTarget | None:
        """The target of a ``redis+sentinel://`` URL; None for any other URL."""
        scheme, _, rest = url.partition("://")
        if scheme != SENTINEL_SCHEME:
            return None
        netloc, _, path = rest.partition("/")
        auth, _, hosts = netloc.rpartition("@")
        password = unquote(auth.partition(":")[2]) or None
        service, _, db = path.partition("/")
        return cls(
            sentinels=_sentinel_addresses(hosts, f"{url!r}"),
            service=unquote(service),
            password=password,
            db=int(db or 0),
        )


def _sentinel_target(env: Mapping[str, str]) -> SentinelTarget:
    if env.get("FLASK_REDIS_URL"):
        raise ConfigError(
            "FLASK_REDIS_URL and FLASK_REDIS_SENTINELS are both set; "
            "keep one (the sentinels find the master themselves)"
        )
    service = (env.get("FLASK_REDIS_SENTINEL_MASTER") or "").strip()
    if not service:
        raise ConfigError(
            "FLASK_REDIS_SENTINEL_MASTER is not set; FLASK_REDIS_SENTINELS needs the "
            "service name the sentinels monitor (their `sentinel monitor <name> ...`)"
        )
    db = _get(env, "FLASK_REDIS_DB")
    if not db.isdigit():
        raise ConfigError(f"FLASK_REDIS_DB={db!r} must be a whole number (0 or more)")
    return SentinelTarget(
        sentinels=_sentinel_addresses(env["FLASK_REDIS_SENTINELS"], "FLASK_REDIS_SENTINELS"),
        service=service,
        password=env.get("FLASK_REDIS_PW") or None,
        db=int(db),
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


def _cors_origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get("FLASK_CORS_ORIGINS")
    if raw is None:
        raw = "" if name == "production" else "*"
    return tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())


def _secret_key(env: Mapping[str, str], name: str, instance_path: Path) -> str:
    if env.get("FLASK_SECRET_KEY"):
        return env["FLASK_SECRET_KEY"]
    if name == "testing":
        return secrets.token_urlsafe(48)
    return _local_secret(instance_path / "secret_key")


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
