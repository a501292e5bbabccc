"""The pre-commit configuration runs CI's quick checks with the project's own tools.

``.ci/run`` runs every hook on every file (``pre-commit run --all-files``); here, that
the hooks are the local ones CI relies on, and that they do fail on a bad file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


def run_hook(hook: str, path: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PRE_COMMIT), "run", hook, "--files", str(path)],
        cwd=ROOT,
        env={**os.environ, "PRE_COMMIT_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_hooks_are_local_uv_runs_of_what_ci_checks():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())

    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert [repo["repo"] for repo in config["repos"]] == ["local"]  # nothing to download
    assert set(hooks) == {"ruff-check", "ruff-format", "lint-imports", "basedpyright"}
    assert all(hook["language"] == "system" for hook in hooks.values())
    assert all(hook["entry"].startswith("uv run --locked ") for hook in hooks.values())
    assert "pre-commit run --all-files" in (ROOT / ".ci/run").read_text()


@pytest.fixture
def pre_commit_home(tmp_path: Path) -> Path:
    home = tmp_path / "pre-commit-home"
    home.mkdir()
    return home


def test_the_lint_hook_fails_on_an_unused_import(tmp_path, pre_commit_home):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\nANSWER = 42\n")

    result = run_hook("ruff-check", bad, pre_commit_home)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "F401" in result.stdout
    assert "`os` imported but unused" in result.stdout


def test_the_format_hook_formats_the_file(tmp_path, pre_commit_home):
    messy = tmp_path / "messy.py"
    messy.write_text("ANSWER  =  {'a':1}\n")

    result = run_hook("ruff-format", messy, pre_commit_home)

    assert result.returncode == 0, result.stdout + result.stderr
    assert messy.read_text() == 'ANSWER = {"a": 1}\n'
