"""Where the cluster's programs are, and what to install when one is missing."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


class MissingBinary(RuntimeError):
    """A program the cluster needs is not installed; the message says how to get it."""


# program -> (where Debian puts it, the Debian package that ships it)
DEBIAN: dict[str, tuple[str, str]] = {
    "haproxy": ("/usr/sbin/haproxy", "haproxy"),
    "mariadbd": ("/usr/sbin/mariadbd", "mariadb-server"),
    "mariadb-install-db": ("/usr/bin/mariadb-install-db", "mariadb-server"),
    "redis-server": ("/usr/bin/redis-server", "redis-server"),
    "redis-sentinel": ("/usr/bin/redis-sentinel", "redis-sentinel"),
}

# Console scripts of this workspace's virtualenv (uv sync): the app, its worker, the CLI,
# and the MongoDB-wire daemon of the dev group.
WORKSPACE = {
    "gunicorn": "imflask-app (uv sync)",
    "flask": "imflask-app (uv sync)",
    "imflask-worker": "imflask-worker (uv sync)",
    "secantusd-py": "the dev group's secantusdb (uv sync)",
}


def debian(program: str) -> str:
    """The absolute path of a Debian program, or :class:`MissingBinary` naming its package."""
    path, package = DEBIAN[program]
    if Path(path).exists():
        return path
    found = shutil.which(program)
    if found:
        return found
    raise MissingBinary(
        f"{program} is not installed: it comes with Debian's {package} package.\n"
        f"  Install it with: apt-get install -y {package}"
    )


def workspace(program: str) -> str:
    """A console script of the virtualenv this command runs in (else one on PATH)."""
    beside = Path(sys.executable).parent / program
    if beside.exists():
        return str(beside)
    found = shutil.which(program)
    if found:
        return found
    raise MissingBinary(
        f"{program} is not installed: it comes with {WORKSPACE[program]}.\n"
        "  Run imflask-cluster from the workspace: uv run imflask-cluster ..."
    )


def missing() -> list[str]:
    """The message of every program that is missing (empty when all are installed)."""
    problems = []
    for program in DEBIAN:
        try:
            debian(program)
        except MissingBinary as error:
            problems.append(str(error))
    for program in WORKSPACE:
        try:
            workspace(program)
        except MissingBinary as error:
            problems.append(str(error))
    return problems


def require_all() -> None:
    """Raise one :class:`MissingBinary` listing every missing program and one install line."""
    problems = missing()
    if not problems:
        return
    packages = sorted({package for program, (_, package) in DEBIAN.items() if _is_missing(program)})
    install = f"\nInstall the Debian packages with: apt-get install -y {' '.join(packages)}"
    raise MissingBinary("\n".join(problems) + (install if packages else ""))


def _is_missing(program: str) -> bool:
    try:
        debian(program)
    except MissingBinary:
        return True
    return False
