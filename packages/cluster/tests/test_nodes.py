"""A cluster node's life as ``imflask-cluster`` drives it: real processes, stopped gently
or not, recorded so that a later command can find them again."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from imflask_cluster import binaries
from imflask_cluster.layout import find_gunicorn_config
from imflask_cluster.nodes import Node

ROOT = Path(__file__).resolve().parents[3]
# The line a node prints once it runs (its signal handlers set); joined at run time, so that
# the log's start line, which shows the command, does not hold it.
READY = "node-" + "ready"
SLEEPER = "import time; print('node-' + 'ready', flush=True); time.sleep(60)"
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('node-' + 'ready', flush=True); time.sleep(60)"
)


def started(tmp_path: Path, name: str, code: str) -> Node:
    node = Node(name=name, kind="worker", folder=str(tmp_path / name),
                command=[sys.executable, "-c", code])  # fmt: skip
    node.spawn()
    for _ in range(600):  # at most 30 s
        if READY in node.log_tail():
            return node
        assert node.alive, node.log_tail()
        node.wait_gone(0.05)
    raise AssertionError(f"{name} never got ready: {node.log_tail()}")


def test_a_node_stops_on_sigterm_and_its_record_round_trips(tmp_path):
    node = started(tmp_path, "sleeper", SLEEPER)
    record = Node.from_dict(node.to_dict())
    assert record == node
    assert record.alive  # the same process, found again from the record

    with pytest.raises(RuntimeError, match="sleeper already runs"):
        node.spawn()
    assert node.stop(grace=30) is True

    assert not node.alive
    assert not record.alive
    assert node.exited_while_starting()  # a PID recorded, no process behind it
    assert node.stop() is True  # stopping what is not running is done at once
    assert READY in node.log_tail()


def test_a_node_that_ignores_sigterm_is_killed_after_its_grace(tmp_path):
    node = started(tmp_path, "stubborn", STUBBORN)

    assert node.stop(grace=0.5) is False

    assert not node.alive


def test_a_node_that_never_started_has_no_log_yet(tmp_path):
    node = Node(name="never", kind="worker", folder=str(tmp_path / "never"), command=["true"])

    assert node.log_tail() == ""
    assert not node.exited_while_starting()


def test_the_gunicorn_config_is_found_upwards_or_named(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT / "packages" / "cluster")
    assert find_gunicorn_config(None) == str(ROOT / "gunicorn.conf.py")  # from a parent
    named = tmp_path / "my.conf.py"
    named.write_text("workers = 1\n")
    assert find_gunicorn_config(str(named)) == str(named)

    with pytest.raises(FileNotFoundError, match=r"--gunicorn-config nowhere\.py: no such file"):
        find_gunicorn_config("nowhere.py")


def test_a_missing_workspace_program_says_to_run_from_the_workspace(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # no scripts beside it
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(binaries.MissingBinary) as raised:
        binaries.workspace("imflask-worker")

    assert "Run imflask-cluster from the workspace: uv run imflask-cluster" in str(raised.value)
    assert any("imflask-worker is not installed" in p for p in binaries.missing())
