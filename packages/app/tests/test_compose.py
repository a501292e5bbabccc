"""compose.yaml: the image as migration, app and worker, the stores beside them, no secret.

The store images (MariaDB, Redis, MongoDB) come from a container registry this machine
cannot reach, so the stack is not started here; the image it builds is, by the container
suite (tests/container/test_image.py). These tests read the file as compose does (YAML with
its merge keys, then ``${NAME:?message}``, ``${NAME:-default}`` and ``$$``) and check what
it asks of the app: production settings that load_settings accepts, stores named by their
service, the secrets only ever taken from the environment.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from imflask_core.config import load_settings, variable

COMPOSE = Path(__file__).resolve().parents[3] / "compose.yaml"
IMAGE_SERVICES = ("migrate", "app", "worker")
STORES = {"mariadb": "FLASK_MYSQL_URI", "mongo": "FLASK_MONGO_URI", "redis": "FLASK_REDIS_URL"}
SECRETS = {
    "FLASK_SECRET_KEY": "s" * 40,
    "MARIADB_PASSWORD": "mariadb-password",
    "MARIADB_ROOT_PASSWORD": "mariadb-root-password",
    "REDIS_PASSWORD": "redis-password",
    "MONGO_PASSWORD": "mongo-password",
}
INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:\?|:-)(?P<arg>[^}]*))?\}")


class Unset(Exception):
    """A required variable (``${NAME:?message}``) is not set: compose stops with the message."""


def interpolate(value: str, env: dict[str, str]) -> str:
    def replace(found: re.Match[str]) -> str:
        if found.group(0) == "$$":
            return "$"
        name, op, arg = found.group("name", "op", "arg")
        if env.get(name):
            return env[name]
        if op == ":?":
            raise Unset(f"{name}: {arg}")
        if op == ":-":
            return arg
        return ""

    return INTERPOLATION.sub(replace, value)


def services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def environment(service: str, env: dict[str, str]) -> dict[str, str]:
    raw = services()[service].get("environment", {})
    return {name: interpolate(str(value), env) for name, value in raw.items()}


def test_the_image_runs_the_migration_the_app_and_the_worker():
    found = services()

    assert {found[name]["build"] for name in IMAGE_SERVICES} == {"."}
    assert len({found[name]["image"] for name in IMAGE_SERVICES}) == 1
    assert found["migrate"]["command"] == ["flask", "db", "upgrade"]
    assert "command" not in found["app"]  # the image's gunicorn
    assert found["worker"]["command"] == ["imflask-worker"]
    assert "healthcheck" not in found["app"]  # the image's /healthz check
    assert found["worker"]["healthcheck"] == {"disable": True}


def test_the_app_and_the_worker_start_after_the_migration_and_it_after_the_stores():
    found = services()

    for name in ("app", "worker"):
        assert found[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }
    assert found["migrate"]["depends_on"] == {
        store: {"condition": "service_healthy"} for store in STORES
    }
    assert all("healthcheck" in found[store] for store in STORES)


@pytest.mark.parametrize("service", IMAGE_SERVICES)
def test_production_accepts_the_settings_compose_gives(service):
    env = environment(service, SECRETS)

    settings = load_settings("production", environ=env, dotenv_path=None)

    assert env["FLASK_CONFIG"] == "production"
    for name in env:
        if name.startswith("FLASK_"):
            variable(name)  # a setting the app reads, not a misspelt one
    assert settings.secret_key == SECRETS["FLASK_SECRET_KEY"]
    assert settings.mysql_uri == "mysql://imflask:mariadb-password@mariadb:3306/conduit"


def test_each_store_uri_names_its_service_and_the_password_the_store_is_given():
    env = environment("app", SECRETS)
    mariadb = environment("mariadb", SECRETS)
    mongo = environment("mongo", SECRETS)

    for store, setting in STORES.items():
        assert f"@{store}:" in env[setting]
    assert f":{mariadb['MARIADB_PASSWORD']}@" in env["FLASK_MYSQL_URI"]
    assert env["FLASK_MYSQL_URI"].endswith(f"/{mariadb['MARIADB_DATABASE']}")
    assert (
        f"//{mongo['MONGO_INITDB_ROOT_USERNAME']}:{mongo['MONGO_INITDB_ROOT_PASSWORD']}@"
        in (env["FLASK_MONGO_URI"])
    )
    assert f":{environment('redis', SECRETS)['REDIS_PASSWORD']}@" in env["FLASK_REDIS_URL"]


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_compose_stops_when_a_secret_is_missing(secret):
    env = {name: value for name, value in SECRETS.items() if name != secret}

    with pytest.raises(Unset, match=secret):
        interpolate(COMPOSE.read_text(), env)


def test_no_secret_is_written_in_the_file():
    text = COMPOSE.read_text()
    for value in SECRETS.values():
        assert value not in text
    # Every credential in the file is a ${NAME:?...} of one of the secrets.
    for name, value in re.findall(r"^\s+(\w*(?:PASSWORD|SECRET)\w*):\s*(.+)$", text, re.M):
        assert re.fullmatch(r"\$\{(\w+):\?[^}]*\}", value.strip()), name
    uris = re.findall(r"\w+://(?:\$\{[^}]*\}|[^\s\"$])+", text)
    assert len(uris) == len(STORES)
    for uri in uris:
        userinfo = uri.split("://", 1)[1].split("@", 1)
        if len(userinfo) == 2 and ":" in userinfo[0]:
            password = userinfo[0].split(":", 1)[1]
            assert re.fullmatch(r"\$\{(\w+):\?[^}]*\}", password), uri
