"""README's recipe "Adding a resource through all layers" names only paths that exist.

Each numbered step starts with the file it writes, ``(new)`` or ``(edited)``: an edited
file must exist, a new file's folder must; every other ``packages/...`` path the recipe
names must exist too, and the count of new files it announces must match its steps.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SECTION = "## Adding a resource through all layers"
STEP = re.compile(r"^(\d+)\. `([^`]+)` \((new|edited)\)", re.MULTILINE)
NAMED_PATH = re.compile(r"`(packages/[^`\s]+)`")
NEW_FILES = re.compile(r"\b(one|two|three|four|five|six|seven|eight) new files?\b", re.IGNORECASE)
WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight"]


def recipe_of(readme: str) -> str:
    start = readme.index(SECTION)
    following = readme.find("\n## ", start + len(SECTION))
    return readme[start : following if following != -1 else len(readme)]


def recipe_problems(readme: str, root: Path) -> list[str]:
    """What in the recipe no longer matches the tree under ``root``."""
    recipe = recipe_of(readme)
    steps = STEP.findall(recipe)
    problems = []
    if [int(number) for number, _, _ in steps] != list(range(1, len(steps) + 1)):
        problems.append(f"steps are not numbered 1..n: {[number for number, _, _ in steps]}")
    for _, path, kind in steps:
        if kind == "edited" and not (root / path).is_file():
            problems.append(f"edited file {path} does not exist")
        if kind == "new" and not (root / path).parent.is_dir():
            problems.append(f"new file {path}: its folder does not exist")
    written = {path for _, path, _ in steps}
    for path in sorted(set(NAMED_PATH.findall(recipe)) - written):
        if not (root / path).exists():
            problems.append(f"{path} does not exist")
    announced = NEW_FILES.search(recipe)
    new_steps = sum(kind == "new" for _, _, kind in steps)
    if announced is None or WORDS.index(announced[1].lower()) + 1 != new_steps:
        problems.append(f"the recipe does not announce its {new_steps} new files")
    return problems


def test_every_path_the_recipe_names_exists():
    readme = (ROOT / "README.md").read_text()

    assert recipe_problems(readme, ROOT) == []
    assert len(STEP.findall(recipe_of(readme))) >= 4  # the steps were found


def test_a_moved_or_missing_path_in_the_recipe_is_reported(tmp_path):
    (tmp_path / "packages/models").mkdir(parents=True)
    (tmp_path / "packages/models/schema.py").write_text("")
    readme = f"""# X

{SECTION}

Two new files:

1. `packages/models/bookmarks.py` (new) — with `packages/models/schema.py`.
2. `packages/gone/views.py` (new) — see `packages/models/moved.py`.
3. `packages/models/effects.py` (edited) — one more.

## Next
`packages/outside/the_recipe.py`
"""

    assert recipe_problems(readme, tmp_path) == [
        "new file packages/gone/views.py: its folder does not exist",
        "edited file packages/models/effects.py does not exist",
        "packages/models/moved.py does not exist",
    ]


def test_a_wrong_count_of_new_files_is_reported(tmp_path):
    (tmp_path / "packages").mkdir()
    readme = f"{SECTION}\n\nThree new files:\n\n1. `packages/a.py` (new) — a.\n"

    assert recipe_problems(readme, tmp_path) == ["the recipe does not announce its 1 new files"]
