"""Configuration per environment: selection, defaults and production's refusals."""

from __future__ import annotations

import stat

import pytest

from imflask_core.config import SentinelTarget, load_settings
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
