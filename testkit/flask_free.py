"""pytest plugin: the controllers', models' and worker's tests run without the web stack.

Those layers never import Flask, so neither do their tests: they reach the stores
through ``ctx`` and ``make_context`` (built by ``bootstrap``), never through an app.
Two checks keep it so:

- in every run, collecting a test of those packages that imports the web stack or
  asks for an app fixture is an error;
- a run of only those packages (``pytest packages/controllers/tests
  packages/models/tests packages/worker/tests``) blocks the web stack's import
  altogether, so a test or fixture that builds an app some other way fails there.

Loaded by the root ``conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from pathlib import Path

import pytest

from testkit import source as source_code

ROOT = Path(__file__).resolve().parent.parent
FLASK_FREE = tuple(
    ROOT / "packages" / name / "tests" for name in ("controllers", "models", "worker")
)
WEB_MODULES = frozenset({"flask", "werkzeug", "imflask_app", "imflask_api"})
# The fixtures that build (or serve) a Flask app.
WEB_FIXTURES = frozenset({"session_app", "app", "client", "make_app", "fault_app", "serve"})


def is_flask_free(path: Path) -> bool:
    return any(path == folder or folder in path.parents for folder in FLASK_FREE)


class WebStackBlocked(MetaPathFinder):
    """Refuses to import the web stack."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: object = None):
        if fullname.split(".")[0] in WEB_MODULES:
            raise ModuleNotFoundError(
                f"{fullname} imported by a test of the controllers, models or worker, "
                "which run without the web stack (see testkit/flask_free.py)",
                name=fullname,
            )
        return None


def web_modules_loaded() -> list[str]:
    return sorted(name for name in sys.modules if name.split(".")[0] in WEB_MODULES)


def pytest_configure(config: pytest.Config) -> None:
    here = config.invocation_params.dir
    paths = [(here / arg.split("::")[0]).resolve() for arg in config.args]
    if not paths or not all(is_flask_free(path) for path in paths):
        return
    loaded = web_modules_loaded()
    if loaded:
        raise pytest.UsageError(f"the web stack was imported before the tests ran: {loaded}")
    sys.meta_path.insert(0, WebStackBlocked())
    config.stash[BLOCKED] = True


BLOCKED = pytest.StashKey[bool]()


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.stash.get(BLOCKED, False):
        return "web stack: blocked (flask, werkzeug, imflask_app, imflask_api)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problems: list[str] = []
    imports_checked: set[Path] = set()
    for item in items:
        path = Path(item.path)
        if not is_flask_free(path):
            continue
        used = WEB_FIXTURES & set(getattr(item, "fixturenames", ()))
        if used:
            problems.append(f"{item.nodeid} uses {', '.join(sorted(used))}")
        if path not in imports_checked:
            imports_checked.add(path)
            problems.extend(
                f"{path.relative_to(ROOT)} imports {name}" for name in _web_imports(path)
            )
    if problems:
        raise pytest.UsageError(
            "the controllers', models' and worker's tests run without the web stack "
            "(use ctx or make_context, not an app):\n  " + "\n  ".join(problems)
        )


def _web_imports(path: Path) -> list[str]:
    """Every import of the web stack in the module, at any depth (a function's too)."""
    found = []
    for node in ast.walk(source_code.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.extend(name for name in names if name.split(".")[0] in WEB_MODULES)
    return found
