"""The controllers', models' and worker's tests run without the web stack (testkit/flask_free)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from testkit.flask_free import FLASK_FREE, ROOT, WebStackBlocked, _web_imports


def test_the_three_packages_tests_collect_and_run_with_the_web_stack_blocked():
    # given a run of only those packages' tests, which blocks flask and the app's packages
    folders = [str(folder.relative_to(ROOT)) for folder in FLASK_FREE]
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *folders]

    # when it collects every test, and runs one on the bootstrap's context
    collected = subprocess.run(
        [*command, "--collect-only", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    ran = subprocess.run(
        [*command, "-k", "test_the_store_check_job_reports_each_store"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    # then nothing imported the web stack
    assert collected.returncode == 0, collected.stdout + collected.stderr
    assert "packages/worker/tests/test_registry.py::" in collected.stdout
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "web stack: blocked" in ran.stdout
    assert "1 passed" in ran.stdout


def test_the_block_refuses_flask_and_the_source_check_sees_an_import_in_a_function(tmp_path):
    with pytest.raises(ModuleNotFoundError, match="without the web stack"):
        WebStackBlocked().find_spec("flask.json", None)
    assert WebStackBlocked().find_spec("redis", None) is None
    module = tmp_path / "test_leaky.py"
    module.write_text("import os\n\ndef test_it():\n    from imflask_app import create_app\n")

    assert _web_imports(module) == ["imflask_app"]
