"""Podman for the container tests: a private configuration and image store, a base from Debian.

Everything podman keeps (configuration, images, containers, networks, buildah's cache mounts)
lives in one folder of the run's own, given to podman through CONTAINERS_CONF,
CONTAINERS_STORAGE_CONF and TMPDIR: /etc/containers and the machine's image store are never
touched, and removing the folder removes all of it.

The settings are the ones this machine kind needs, and harmless elsewhere:

- runtime ``runc``: crun 1.8 refuses the hybrid cgroup layout found here ("cgroups in hybrid
  mode not supported, drop all controllers from cgroupv2"); cgroup manager ``cgroupfs`` and
  an events log in a file, as there is no systemd;
- explicit ulimits no higher than the hard limits podman itself runs under: by default podman
  asks for 1,048,576 open files, more than the sandbox allows, and the container fails with
  "setrlimit `RLIMIT_NOFILE`: Operation not permitted".

The base image is made from Debian's packages with mmdebstrap, from the mirror the machine's
own apt sources name (read at run time), into a tarball that ``podman import`` loads.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# The Debian packages of the base: the interpreter and venv the Dockerfile expects, useradd,
# and the CA certificates a slim Python image carries too.
BASE_PACKAGES = ("python3.11", "python3.11-venv", "passwd", "ca-certificates")
OPEN_FILES = 65536
PROCESSES = 4096
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass
class Podman:
    """``podman`` on a configuration and image store of its own, under ``root``."""

    root: Path

    @classmethod
    def create(cls, root: Path) -> Podman:
        for name in ("conf", "storage", "run", "tmp", "networks"):
            (root / name).mkdir(parents=True, exist_ok=True)
        files, processes = _limits()
        (root / "conf" / "containers.conf").write_text(
            "[containers]\n"
            f'default_ulimits = ["nofile={files}:{files}", "nproc={processes}:{processes}"]\n'
            "[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{root / "run" / "events.log"}"\n'
            f'image_copy_tmp_dir = "{root / "tmp"}"\n'
            "[network]\n"
            f'network_config_dir = "{root / "networks"}"\n'
        )
        (root / "conf" / "storage.conf").write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{root / "storage"}"\n'
            f'runroot = "{root / "run"}"\n'
        )
        return cls(root)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CONTAINERS_CONF": str(self.root / "conf" / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(self.root / "conf" / "storage.conf"),
            "TMPDIR": str(self.root / "tmp"),
        }

    def __call__(
        self,
        *args: str,
        timeout: float = 120,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``podman ARGS``; a non-zero exit fails with podman's own output when ``check``."""
        result = subprocess.run(
            ["podman", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"podman {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def remove_everything(self) -> None:
        """Every container and image of this store, then the store and its configuration."""
        self("rm", "--all", "--force", "--time", "0", check=False)
        self("rmi", "--all", "--force", check=False, timeout=300)
        shutil.rmtree(self.root, ignore_errors=True)


def _limits() -> tuple[int, int]:
    """Open files and processes for each container, within podman's own hard limits.

    Here conmon ran under a process limit of 32768 while the shell allowed 96364, and a
    container may not raise its limits (no CAP_SYS_RESOURCE): ask for less than either.
    """
    files = min(OPEN_FILES, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    processes = min(PROCESSES, resource.getrlimit(resource.RLIMIT_NPROC)[1])
    return files, processes


# The base image -----------------------------------------------------------------------


def debian_codename() -> str:
    text = Path("/etc/os-release").read_text()
    found = re.search(r"^VERSION_CODENAME=\"?([a-z]+)\"?$", text, re.MULTILINE)
    assert found, "/etc/os-release names no VERSION_CODENAME"
    return found.group(1)


def apt_sources(codename: str) -> list[str]:
    """One-line ``deb URI SUITE main`` entries for the Debian suites this machine's apt uses.

    Read from /etc/apt/sources.list and sources.list.d/ (one-line and deb822 files), keeping
    the entries for ``codename``, ``codename-updates`` and ``codename-security``.
    """
    suites = {codename, f"{codename}-updates", f"{codename}-security"}
    entries: list[tuple[str, str]] = []
    folder = Path("/etc/apt/sources.list.d")
    files = [Path("/etc/apt/sources.list"), *sorted(folder.glob("*"))]
    for path in files:
        if path.suffix == ".list" and path.is_file():
            entries += _one_line_entries(path.read_text())
        elif path.suffix == ".sources" and path.is_file():
            entries += _deb822_entries(path.read_text())
    lines = [f"deb {uri} {suite} main" for uri, suite in entries if suite in suites]
    assert any(f" {codename} " in line for line in lines), (
        f"no apt source for Debian {codename} in /etc/apt/sources.list*"
    )
    return list(dict.fromkeys(lines))


def _one_line_entries(text: str) -> list[tuple[str, str]]:
    entries = []
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            entries.append((words[1], words[2]))
    return entries


def _deb822_entries(text: str) -> list[tuple[str, str]]:
    entries = []
    for stanza in re.split(r"\n\s*\n", text):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if "deb" not in fields.get("types", []) or fields.get("enabled") == ["no"]:
            continue
        entries += [(uri, suite) for uri in fields.get("uris", []) for suite in fields["suites"]]
    return entries


def build_base_tarball(path: Path, *, timeout: float = 600) -> Path:
    """A root file system with Debian's Python 3.11 and venv, as a tarball (kept if present)."""
    if path.exists():
        return path
    codename = debian_codename()
    partial = path.with_suffix(".partial.tar")
    subprocess.run(
        [
            "mmdebstrap",
            "--quiet",
            "--variant=apt",
            f"--include={','.join(BASE_PACKAGES)}",
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            "--format=tar",
            codename,
            str(partial),
            *apt_sources(codename),
        ],
        check=True,
        timeout=timeout,
    )
    partial.rename(path)
    return path


def import_base(podman: Podman, tarball: Path, tag: str) -> str:
    """Load the tarball as image ``tag``: a shell by default, like the images it stands in for."""
    podman("import", "--change", 'CMD ["/bin/bash"]', str(tarball), tag, timeout=300)
    return tag


def build_image(podman: Podman, context: Path, *, base: str, tag: str) -> str:
    """``podman build`` of the Dockerfile on ``base``, in the Docker format (HEALTHCHECK kept)."""
    args = ["build", "--format", "docker", "--network", "host", "--build-arg"]
    args += [f"BASE_IMAGE={base}", "--tag", tag]
    ca_bundle = Path(os.environ.get("SSL_CERT_FILE") or CA_BUNDLE)
    if ca_bundle.is_file():  # a TLS-inspecting proxy's CA, for pip and uv in the build
        args += ["--secret", f"id=ca_bundle,src={ca_bundle}"]
    podman(*args, str(context), timeout=900)
    return tag
