"""A real ``imflask-worker`` process on the test run's stores and queue; an author and fans."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from imflask_controllers import profiles, users

WORKER = Path(sys.executable).parent / "imflask-worker"


@pytest.fixture
def run_worker(store_uris, tmp_path):
    """``run_worker(**env)`` runs ``imflask-worker --burst`` until the queue is empty."""

    def run(**extra_env: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            **store_uris.environment(),
            "FLASK_INSTANCE_PATH": str(tmp_path),
            "FLASK_LOG_LEVEL": "INFO",
            **extra_env,
        }
        return subprocess.run(
            [str(WORKER), "--burst"], env=env, capture_output=True, text=True, timeout=120
        )

    return run


def make_user(ctx, name):
    registered = users.register_user(
        ctx, username=name, email=f"{name}@conduit.test", password="password1", client_ip="test"
    )
    return users.authenticate(ctx, registered.token).user


@pytest.fixture
def author_with_fans(ctx):
    """``(author, fans)``: an author followed by five users."""
    author = make_user(ctx, "author")
    fans = [make_user(ctx, f"fan{i}") for i in range(5)]
    for fan in fans:
        profiles.follow_user(ctx, username="author", follower=fan)
    return author, fans
