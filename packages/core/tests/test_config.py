"""Configuration per environment: selection, defaults and production's refusals."""

from __future__ import annotations

import dataclasses
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from imflask_core import config
from imflask_core.config import SentinelTarget, Settings, load_settings
from imflask_core.errors import ConfigError

PRODUCTION_READY = {
    "FLASK_SECRET_KEY": "s" * 48,
    "FLASK_MYSQL_URI": "mysql://app:pw@db:3306/conduit",
    "FLASK_MONGO_URI": "mongodb://mongo:27017",
    "FLASK_REDIS_HOST": "cache",
}


def settings(environ=None, name=None, tmp_path=None, **extra):
    env = dict(environ or {})
    if tmp_path is not None:
        env.setdefault("FLASK_INSTANCE_PATH", str(tmp_path))
    env.update(extra)
    return load_settings(name, environ=env, dotenv_path=None)


def test_development_is_the_default_with_embedded_stores(tmp_path):
    s = settings(tmp_path=tmp_path)

    assert s.env == "development"
    assert s.mysql_uri == f"sqlite:///{tmp_path / 'imflask.sqlite3'}"
    assert s.mongo_uri is None
    assert s.redis_url is None
    assert s.auto_migrate is True
    assert s.store_connect_timeout <= 2
    assert s.store_read_timeout <= 2


@pytest.mark.parametrize("name", ["development", "testing", "production"])
def test_flask_config_selects_the_environment(tmp_path, name):
    s = settings({**PRODUCTION_READY, "FLASK_CONFIG": name}, tmp_path=tmp_path)

    assert s.env == name


def test_an_explicit_name_wins_over_flask_config(tmp_path):
    s = settings({"FLASK_CONFIG": "production"}, name="testing", tmp_path=tmp_path)

    assert s.env == "testing"
    assert s.hash_profile == "fast"


def test_an_unknown_environment_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="FLASK_CONFIG='staging' is not one of"):
        settings({"FLASK_CONFIG": "staging"}, tmp_path=tmp_path)


def test_production_names_every_missing_variable(tmp_path):
    with pytest.raises(ConfigError) as raised:
        settings(name="production", tmp_path=tmp_path)

    message = str(raised.value)
    for variable in ("FLASK_SECRET_KEY", "FLASK_MYSQL_URI", "FLASK_MONGO_URI", "FLASK_REDIS_URL"):
        assert variable in message


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"FLASK_SECRET_KEY": "change-me"}, "FLASK_SECRET_KEY is not set (or is a placeholder)"),
        ({"FLASK_SECRET_KEY": "short"}, "FLASK_SECRET_KEY is shorter than 32 characters"),
        ({"FLASK_MYSQL_URI": "sqlite:///x.db"}, "must be a mysql:// URI in production"),
        ({"FLASK_MONGO_URI": ""}, "FLASK_MONGO_URI is not set"),
        (
            {"FLASK_REDIS_HOST": ""},
            "FLASK_REDIS_URL (or FLASK_REDIS_HOST, or FLASK_REDIS_SENTINELS) is not set",
        ),
    ],
)
def test_production_refuses_each_default(tmp_path, changes, complaint):
    with pytest.raises(ConfigError) as raised:
        settings({**PRODUCTION_READY, **changes}, name="production", tmp_path=tmp_path)

    assert complaint in str(raised.value)
    assert str(raised.value).count("\n  - ") == 1


def test_production_starts_with_every_store_named(tmp_path):
    s = settings(PRODUCTION_READY, name="production", tmp_path=tmp_path)

    assert s.is_production
    assert s.redis_url == "redis://cache:6379/0"
    assert s.cors_origins == ()
    assert s.hash_profile == "strong"
    assert s.auto_migrate is False


def test_redis_url_is_built_from_host_port_password_and_db(tmp_path):
    s = settings(
        {
            "FLASK_REDIS_HOST": "cache",
            "FLASK_REDIS_PORT": "6380",
            "FLASK_REDIS_PW": "p@ss/word",
            "FLASK_REDIS_DB": "3",
        },
        tmp_path=tmp_path,
    )

    assert s.redis_url == "redis://:p%40ss%2Fword@cache:6380/3"


def test_redis_url_wins_over_host(tmp_path):
    s = settings(
        {"FLASK_REDIS_URL": "redis://elsewhere:1/2", "FLASK_REDIS_HOST": "cache"}, tmp_path=tmp_path
    )

    assert s.redis_url == "redis://elsewhere:1/2"


# Redis Sentinel ---------------------------------------------------------------------

SENTINELS = {
    "FLASK_REDIS_SENTINELS": "s1:26379, s2:26380,10.0.0.3:26381",
    "FLASK_REDIS_SENTINEL_MASTER": "imflask",
}


def test_sentinels_and_their_master_name_make_a_sentinel_target(tmp_path):
    s = settings({**SENTINELS, "FLASK_REDIS_PW": "p@ss/word", "FLASK_REDIS_DB": "3"},
                 tmp_path=tmp_path)  # fmt: skip

    assert SentinelTarget.from_url(s.redis_url) == SentinelTarget(
        sentinels=(("s1", 26379), ("s2", 26380), ("10.0.0.3", 26381)),
        service="imflask",
        password="p@ss/word",
        db=3,
    )
    assert "p@ss/word" not in s.redis_url  # quoted, like the plain URL's password


def test_a_sentinel_password_travels_apart_from_the_masters(tmp_path):
    s = settings({**SENTINELS, "FLASK_REDIS_PW": "master pw", "FLASK_REDIS_SENTINEL_PW": "s&=pw"},
                 tmp_path=tmp_path)  # fmt: skip

    target = SentinelTarget.from_url(s.redis_url)

    assert (target.password, target.sentinel_password) == ("master pw", "s&=pw")
    assert SentinelTarget.from_url(target.url) == target
    assert SentinelTarget.from_url(settings(SENTINELS, tmp_path=tmp_path).redis_url) == (
        SentinelTarget(target.sentinels, "imflask")
    )


def test_a_plain_redis_url_is_no_sentinel_target():
    assert SentinelTarget.from_url("redis://cache:6379/0") is None


def test_production_accepts_sentinels_as_its_redis(tmp_path):
    ready = {k: v for k, v in PRODUCTION_READY.items() if k != "FLASK_REDIS_HOST"}

    s = settings({**ready, **SENTINELS}, name="production", tmp_path=tmp_path)

    assert SentinelTarget.from_url(s.redis_url).service == "imflask"


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"FLASK_REDIS_SENTINEL_MASTER": ""}, "FLASK_REDIS_SENTINEL_MASTER is not set"),
        ({"FLASK_REDIS_SENTINELS": "s1"}, "FLASK_REDIS_SENTINELS: 's1' is not host:port"),
        ({"FLASK_REDIS_SENTINELS": "s1:port"}, "FLASK_REDIS_SENTINELS: 's1:port' is not host"),
        ({"FLASK_REDIS_SENTINELS": "s1:70000"}, "FLASK_REDIS_SENTINELS: 's1:70000' is not"),
        ({"FLASK_REDIS_SENTINELS": " , "}, "FLASK_REDIS_SENTINELS=' , ' names no sentinel"),
        ({"FLASK_REDIS_URL": "redis://c:1/0"}, "FLASK_REDIS_URL and FLASK_REDIS_SENTINELS"),
        ({"FLASK_REDIS_DB": "one"}, "FLASK_REDIS_DB='one' must be a whole number"),
        ({"FLASK_REDIS_SENTINELS": ""}, "FLASK_REDIS_SENTINEL_MASTER is set but"),
    ],
)
def test_sentinel_settings_are_refused_naming_the_variable(tmp_path, changes, complaint):
    with pytest.raises(ConfigError) as raised:
        settings({**SENTINELS, **changes}, tmp_path=tmp_path)

    assert complaint in str(raised.value)


@pytest.mark.parametrize("value", ["soon", "0", "-1"])
def test_bad_numbers_are_refused_naming_the_variable(tmp_path, value):
    with pytest.raises(ConfigError, match="FLASK_STORE_READ_TIMEOUT"):
        settings({"FLASK_STORE_READ_TIMEOUT": value}, tmp_path=tmp_path)


def test_development_generates_its_secret_once_into_the_instance_folder(tmp_path):
    first = settings(tmp_path=tmp_path).secret_key
    second = settings(tmp_path=tmp_path).secret_key

    assert first == second
    assert len(first) >= 32
    secret_file = tmp_path / "secret_key"
    assert secret_file.read_text().strip() == first
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600


def test_testing_never_writes_a_secret_file(tmp_path):
    s = settings(name="testing", tmp_path=tmp_path)

    assert len(s.secret_key) >= 32
    assert not (tmp_path / "secret_key").exists()


def test_a_dotenv_file_is_read_and_process_variables_win(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("FLASK_MONGO_DB_NAME=from_dotenv\nFLASK_ACCESS_TOKEN_TTL=60\n")

    s = load_settings(
        environ={"FLASK_ACCESS_TOKEN_TTL": "120", "FLASK_INSTANCE_PATH": str(tmp_path)},
        dotenv_path=dotenv,
    )

    assert s.mongo_db_name == "from_dotenv"
    assert s.access_token_ttl == 120


def test_cors_origins_are_a_comma_separated_list(tmp_path):
    s = settings({"FLASK_CORS_ORIGINS": "https://a.example, https://b.example/"}, tmp_path=tmp_path)

    assert s.cors_origins == ("https://a.example", "https://b.example")


def test_replace_refuses_unknown_settings(tmp_path):
    with pytest.raises(ConfigError, match="unknown setting"):
        settings(tmp_path=tmp_path).replace(mysql_url="x")


def test_the_config_module_does_not_import_flask():
    import subprocess
    import sys

    code = "import sys, imflask_core.config, imflask_core.embedded; print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"


# Declared once: the README's table and .env.example come from the declarations ---------

ROOT = Path(__file__).resolve().parents[3]
TABLE_HEADER = "| variable | default | meaning |"
REGENERATE = "uv run python -m imflask_core.config --readme-table"


def readme_table(text: str) -> list[tuple[str, str, str]]:
    """(variable, default, meaning) of each row of the README's variable table."""
    lines = text.splitlines()
    start = lines.index(TABLE_HEADER)
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        name, default, meaning = (cell.strip() for cell in line.strip().strip("|").split("|"))
        rows.append((name.strip("`"), default, meaning))
    return rows


def drift(readme: str) -> list[str]:
    """How the README's table disagrees with the declarations (nothing: they agree)."""
    documented = readme_table(readme)
    declared = config.readme_rows()
    in_readme = {name: (default, meaning) for name, default, meaning in documented}
    in_code = {name: (default, meaning) for name, default, meaning in declared}
    problems = [f"{n}: in the README, not declared" for n in in_readme if n not in in_code]
    problems += [f"{n}: declared, not in the README" for n in in_code if n not in in_readme]
    for name in in_readme.keys() & in_code.keys():
        for what, readme_cell, code_cell in zip(
            ("default", "meaning"), in_readme[name], in_code[name], strict=True
        ):
            if readme_cell != code_cell:
                problems.append(f"{name}: README {what} {readme_cell!r}, code {code_cell!r}")
    if not problems and [r[0] for r in documented] != [r[0] for r in declared]:
        problems.append("the README lists the variables in another order than Settings")
    return sorted(problems)


def test_the_readme_table_is_the_declarations():
    problems = drift((ROOT / "README.md").read_text())

    assert not problems, f"regenerate the table with `{REGENERATE}`:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (("| `300` |", "| `600` |"), "FLASK_CACHE_TTL: README default '`600`', code '`300`'"),
        (("Redis port |", "Redis TCP port |"), "FLASK_REDIS_PORT: README meaning"),
        (("| `FLASK_CACHE_TTL` |", "| `FLASK_CACHE_SECONDS` |"), "FLASK_CACHE_SECONDS: in the"),
    ],
)
def test_the_readme_check_catches_drift(edit, complaint):
    readme = (ROOT / "README.md").read_text().replace(*edit)

    assert any(problem.startswith(complaint) for problem in drift(readme)), drift(readme)


def test_a_variable_left_out_of_the_readme_is_caught():
    readme = "\n".join(
        line
        for line in (ROOT / "README.md").read_text().splitlines()
        if not line.startswith("| `FLASK_JOBS_QUEUE` |")
    )

    assert drift(readme) == ["FLASK_JOBS_QUEUE: declared, not in the README"]


def test_the_committed_env_example_is_generated_from_the_declarations():
    generated = subprocess.run(
        [sys.executable, "-m", "imflask_core.config", "--env-example"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert generated == config.env_example()
    assert (ROOT / ".env.example").read_text() == generated, (
        "regenerate it: uv run python -m imflask_core.config --env-example > .env.example"
    )


def test_the_env_example_changes_nothing_when_copied_to_dotenv(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(config.env_example())
    environ = {"FLASK_INSTANCE_PATH": str(tmp_path)}

    assert load_settings(environ=environ, dotenv_path=dotenv) == load_settings(
        environ=environ, dotenv_path=None
    )


def test_every_field_declares_its_variables_once():
    declarations = config.declarations()
    names = [v.name for v in (*config.variables(), *config.OTHER_VARIABLES)]

    assert list(declarations) == [f.name for f in dataclasses.fields(Settings)]
    assert len(names) == len(set(names))
    assert all(v.meaning and "|" not in v.meaning + config.default_doc(v) for v in
               (*config.variables(), *config.OTHER_VARIABLES))  # fmt: skip


def test_every_flask_variable_the_code_names_is_declared():
    flask_own = {"FLASK_APP", "FLASK_DEBUG", "FLASK_RUN_HOST", "FLASK_RUN_PORT"}
    declared = {v.name for v in config.variables()} | flask_own
    sources = [
        *(ROOT / "packages").glob("*/src/**/*.py"),
        *(ROOT / "packages").glob("*/tests/**/*.py"),
    ]
    sources += [
        *(ROOT / "testkit").glob("**/*.py"),
        ROOT / "conftest.py",
        ROOT / "gunicorn.conf.py",
    ]

    named = {
        (name, path.relative_to(ROOT).as_posix())
        for path in sources
        if path != Path(__file__).resolve()  # this file names undeclared ones on purpose
        for name in re.findall(r"""["'](FLASK_[A-Z0-9_]+)""", path.read_text())
    }

    assert sorted(n for n in named if n[0] not in declared) == []


def test_an_undeclared_variable_cannot_be_read(tmp_path):
    source = config.Source({}, "development")

    with pytest.raises(KeyError, match="FLASK_NOPE is not declared"):
        source.text("FLASK_NOPE")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("development", ((1000, 60), (10000, 60), ("*",), "DEBUG", False, True, True)),
        ("testing", ((1000, 60), (10000, 60), ("*",), "INFO", False, True, False)),
        ("production", ((10, 60), (60, 60), (), "INFO", True, False, False)),
    ],
)
def test_the_per_environment_defaults(tmp_path, name, expected):
    s = settings(PRODUCTION_READY, name=name, tmp_path=tmp_path)

    assert (
        (s.rate_limit_auth.count, s.rate_limit_auth.seconds),
        (s.rate_limit_writes.count, s.rate_limit_writes.seconds),
        s.cors_origins,
        s.log_level,
        s.log_json,
        s.jobs_inline,
        s.auto_migrate,
    ) == expected


def test_the_literal_defaults(tmp_path):
    s = settings(tmp_path=tmp_path)

    assert s.instance_path == tmp_path.resolve()
    assert (s.mongo_db_name, s.redis_key_prefix, s.jobs_queue) == ("imflask", "imflask:", "imflask")
    assert (s.store_connect_timeout, s.store_read_timeout, s.sql_pool_size) == (2.0, 2.0, 8)
    assert (s.access_token_ttl, s.refresh_token_ttl, s.max_content_length) == (
        3600,
        1209600,
        1048576,
    )
    assert (s.cache_ttl, s.proxy_hops, s.slow_request_ms) == (300, 0, 500)
    assert s.metrics_allow == ("127.0.0.1", "::1")
    assert (s.job_retry_intervals, s.job_abandoned_after) == ((2, 10, 60), 20)
    assert (s.mysql_replica_uri, s.mysql_replica_uris, s.mysql_replica_max_lag) == (None, (), 10.0)
    assert s.hash_profile == "strong"


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"FLASK_CORS_ORIGINS": ""}, "cors_origins", ()),  # empty: no origin, not the default
        ({"FLASK_LOG_JSON": "  "}, "log_json", False),  # blank flags take the default
        ({"FLASK_AUTO_MIGRATE": " "}, "auto_migrate", True),
        ({"FLASK_JOBS_INLINE": "no"}, "jobs_inline", False),
        ({"FLASK_LOG_LEVEL": ""}, "log_level", "DEBUG"),  # empty takes the default
        ({"FLASK_LOG_LEVEL": " warning "}, "log_level", "WARNING"),
        ({"FLASK_CACHE_TTL": ""}, "cache_ttl", 300),
        ({"FLASK_CONFIG": ""}, "env", "development"),
        ({"FLASK_MONGO_URI": ""}, "mongo_uri", None),
        ({"FLASK_METRICS_ALLOW": "10.0.0.0/8, ::1,"}, "metrics_allow", ("10.0.0.0/8", "::1")),
        ({"FLASK_JOB_RETRY_INTERVALS": "0, 5"}, "job_retry_intervals", (0, 5)),
    ],
)
def test_what_counts_as_unset_is_kept_per_variable(tmp_path, changes, field, expected):
    assert getattr(settings(changes, tmp_path=tmp_path), field) == expected


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"FLASK_PROXY_HOPS": "-1"}, "FLASK_PROXY_HOPS='-1' must be a whole number"),
        ({"FLASK_RATE_LIMIT_AUTH": "ten"}, "FLASK_RATE_LIMIT_AUTH='ten' must look like COUNT"),
        ({"FLASK_RATE_LIMIT_WRITES": "0/60"}, "FLASK_RATE_LIMIT_WRITES='0/60' needs a count"),
        ({"FLASK_JOB_RETRY_INTERVALS": "2,x"}, "FLASK_JOB_RETRY_INTERVALS='2,x' must be whole"),
        ({"FLASK_JOB_RETRY_INTERVALS": "-2"}, "FLASK_JOB_RETRY_INTERVALS='-2' cannot be"),
        ({"FLASK_SQL_POOL_SIZE": "1.5"}, "FLASK_SQL_POOL_SIZE='1.5' is not a int"),
        ({"FLASK_MYSQL_REPLICA_MAX_LAG": "0"}, "FLASK_MYSQL_REPLICA_MAX_LAG='0' must be greater"),
        ({"FLASK_REDIS_HOST": "c", "FLASK_REDIS_PORT": "x"}, "FLASK_REDIS_PORT='x' is not a int"),
        ({"FLASK_SENTRY_DSN": "sentry.example"}, "FLASK_SENTRY_DSN must look like https://KEY@"),
        ({"FLASK_SENTRY_DSN": "ftp://k@sentry.example/1"}, "FLASK_SENTRY_DSN must look like"),
        ({"FLASK_SENTRY_DSN": "https://sentry.example/1"}, "FLASK_SENTRY_DSN must look like"),
        ({"FLASK_SENTRY_DSN": "https://k@sentry.example:x/1"}, "FLASK_SENTRY_DSN must look like"),
        ({"FLASK_SENTRY_DSN": "https://k@sentry.example/"}, "FLASK_SENTRY_DSN must end with"),
    ],
)
def test_each_parser_names_its_variable(tmp_path, changes, complaint):
    with pytest.raises(ConfigError) as raised:
        settings(changes, tmp_path=tmp_path)

    assert complaint in str(raised.value)


def test_production_lists_every_problem_at_once(tmp_path):
    with pytest.raises(ConfigError) as raised:
        settings({"FLASK_SECRET_KEY": "short", "FLASK_MYSQL_URI": "sqlite:///x"},
                 name="production", tmp_path=tmp_path)  # fmt: skip

    assert str(raised.value).count("\n  - ") == 4


def test_a_sentry_dsn_is_read_when_set_and_none_by_default(tmp_path):
    dsn = "https://public@o1.ingest.sentry.example/42"

    assert settings({}, tmp_path=tmp_path).sentry_dsn is None
    assert settings({"FLASK_SENTRY_DSN": f" {dsn} "}, tmp_path=tmp_path).sentry_dsn == dsn
    assert settings({"FLASK_SENTRY_DSN": "http://k@127.0.0.1:9/1"}, tmp_path=tmp_path).sentry_dsn
