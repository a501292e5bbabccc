"""A real ``imflask-worker`` process on the test run's stores and queue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
