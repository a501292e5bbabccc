"""A part of the API is its package's modules: each resource module's blueprint is served,
none is listed by hand, and a misnamed one is refused by name."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path

import pytest
from flask import Flask

from imflask_api.blueprints import blueprint_of_package, resource_blueprints


def resource_modules(part: str) -> set[str]:
    """The modules of ``imflask_api.<part>`` that define a ``Blueprint(...)``, read from
    its folder."""
    folder = Path(importlib.import_module(f"imflask_api.{part}").__file__).parent
    return {
        path.stem
        for path in folder.glob("*.py")
        if path.stem != "__init__" and "Blueprint(" in path.read_text()
    }


@pytest.mark.parametrize("part", ["v1", "auth"])
def test_every_resource_module_of_a_part_is_registered_on_it(app, part):
    registered = {
        name.rsplit(".", 1)[1]
        for name in app.blueprints
        if name.startswith(f"api_{part}.") and name.count(".") == 1
    }

    assert registered == resource_modules(part)
    assert registered  # the folder was read


def make_package(root: Path, name: str, modules: dict[str, str]) -> str:
    folder = root / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for module, source in modules.items():
        (folder / f"{module}.py").write_text(textwrap.dedent(source))
    return name


RESOURCE = """
    from flask import Blueprint

    {name} = Blueprint("{name}", __name__, url_prefix="/{name}")

    @{name}.get("")
    def listing():
        return {{}}
"""


def test_a_new_module_is_served_with_no_list_to_edit_and_a_helper_is_passed_over(
    tmp_path, monkeypatch
):
    monkeypatch.syspath_prepend(str(tmp_path))
    package = make_package(
        tmp_path,
        "part_with_new_resource",
        {
            "pins": RESOURCE.format(name="pins"),
            "clips": RESOURCE.format(name="clips"),
            "helpers": "def helper():\n    return 1\n",
        },
    )

    found = resource_blueprints(package)
    app = Flask(__name__)
    app.register_blueprint(blueprint_of_package("part", package), url_prefix="/api")

    assert [blueprint.name for blueprint in found] == ["clips", "pins"]
    assert {"/api/clips", "/api/pins"} <= {rule.rule for rule in app.url_map.iter_rules()}


def test_a_blueprint_not_named_after_its_module_is_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    package = make_package(
        tmp_path,
        "part_with_misnamed_resource",
        {"pins": RESOURCE.format(name="pinned")},
    )

    with pytest.raises(TypeError, match=r"part_with_misnamed_resource\.pins .*\['pinned'\]"):
        resource_blueprints(package)
