"""The layer contracts hold, statically (import-linter) and at run time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import imflask_api

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / ".importlinter"), "--no-cache"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_contract_is_kept():
    result = lint_imports()

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_view_importing_a_model_breaks_the_thin_view_contract(tmp_path):
    shadow = tmp_path / "imflask_api"
    shutil.copytree(Path(imflask_api.__file__).parent, shadow)
    view = shadow / "auth" / "users.py"
    view.write_text(view.read_text() + "\nfrom imflask_models.mysql import users as _table\n")

    result = lint_imports(PYTHONPATH=str(tmp_path))

    assert result.returncode == 1
    assert "Views never import models directly (they go through controllers) BROKEN" in (
        result.stdout
    )
    assert "imflask_api.auth.users -> imflask_models.mysql.users" in result.stdout


def test_the_worker_layers_import_and_run_without_flask(app, store_uris):
    code = """
import importlib, json, pkgutil, sys
for name in ("imflask_models", "imflask_controllers", "imflask_worker"):
    package = importlib.import_module(name)
    for module in pkgutil.walk_packages(package.__path__, name + "."):
        importlib.import_module(module.name)
from imflask_worker.context import process_context
from imflask_worker.jobs import check_stores
from imflask_worker.run import run_job
report = check_stores(process_context())
report["job"] = run_job("notify_followers", {"article_id": 1})  # a real job, as RQ runs it
process_context().close()
web = {"flask", "werkzeug", "imflask_api", "imflask_app"}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in web)
print(json.dumps({"report": report, "web": loaded}))
"""
    env = {**os.environ, **store_uris.environment(), "FLASK_INSTANCE_PATH": str(ROOT / "instance")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env
    )

    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["web"] == []
    assert outcome["report"] == {"mysql": "ok", "mongo": "ok", "redis": "ok", "job": 0}
