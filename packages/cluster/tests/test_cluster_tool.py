"""imflask-cluster's pieces that need no cluster: messages, the HAProxy template, PID records."""

from __future__ import annotations

import os
import re
import sys

import pytest

from imflask_cluster import binaries, cli
from imflask_cluster.layout import Options, haproxy_config, new_secrets, plan, sentinel_config
from imflask_cluster.nodes import Node


def test_a_missing_debian_program_is_named_with_its_package_and_the_install_line(
    monkeypatch, tmp_path, capsys
):
    # given a machine without haproxy (nowhere Debian puts it, nothing on PATH)
    monkeypatch.setitem(binaries.DEBIAN, "haproxy", (str(tmp_path / "haproxy"), "haproxy"))
    monkeypatch.setenv("PATH", str(tmp_path))

    # when a cluster is brought up
    code = cli.main(["up", str(tmp_path / "cluster")])

    # then it stops before starting anything, naming the package and how to install it
    message = capsys.readouterr().err
    assert code == 1
    assert "haproxy is not installed: it comes with Debian's haproxy package" in message
    assert "apt-get install -y haproxy" in message
    assert not (tmp_path / "cluster").exists()


def test_the_haproxy_template_balances_every_instance_with_readyz_checks(tmp_path):
    # given a front door and three instances of 2 gunicorn workers each
    front = Node(name="haproxy", kind="haproxy", folder=str(tmp_path / "haproxy"), command=[],
                 port=8080)  # fmt: skip
    instances = [
        Node(
            name=f"app{i}", kind="app", folder=str(tmp_path / f"app{i}"), command=[], port=9000 + i
        )
        for i in (1, 2, 3)
    ]

    # when the repository's template is filled in
    config = haproxy_config(front, instances, gunicorn_workers=2)

    # then nothing is left unfilled, and both backends list every instance
    assert "${" not in config
    for i in (1, 2, 3):
        assert config.count(f"server app{i} 127.0.0.1:{9000 + i}") == 2
    assert "bind 127.0.0.1:8080" in config
    assert "http-check send meth GET uri /readyz" in config
    assert re.search(r"default-server check .* maxconn 2\n", config)
    assert "option forwardfor" in config
    assert "timeout http-request 10s" in config


def test_a_node_record_never_takes_a_reused_pid_for_its_process(tmp_path):
    # given a node record whose PID now belongs to another process (this one)
    stranger = Node(name="x", kind="worker", folder=str(tmp_path), command=[],
                    pid=os.getpid(), pid_started=1)  # fmt: skip

    # then it is not alive, and nothing is signalled
    assert not stranger.alive
    stranger.kill(timeout=1)
    assert os.getpid()  # still here


def test_a_spawned_node_runs_in_its_own_session_and_a_kill_ends_it(tmp_path):
    # given a node that sleeps
    node = Node(name="sleeper", kind="worker", folder=str(tmp_path / "sleeper"),
                command=[sys.executable, "-c", "import time; time.sleep(60)"])  # fmt: skip
    node.spawn()
    assert node.alive
    assert os.getpgid(node.pid) == node.pid  # its own process group

    # when it is killed
    node.kill()

    # then it is gone (reaped, not a zombie) and its log has the start line
    assert not node.alive
    assert "start:" in node.log_path.read_text()


@pytest.mark.parametrize("text", ["NAME", "=value"])
def test_env_assignments_must_look_like_name_equals_value(text, capsys, tmp_path):
    assert cli.main(["up", str(tmp_path), "--env", text]) == 1
    assert "must look like NAME=VALUE" in capsys.readouterr().err


def test_two_mysql_replicas_get_their_own_server_id_and_both_reach_the_app(monkeypatch, tmp_path):
    # given the programs as this machine may not have them yet (nothing is started here)
    monkeypatch.setattr(binaries, "debian", lambda program: f"/usr/bin/{program}")
    monkeypatch.setattr(binaries, "workspace", lambda program: f"/venv/bin/{program}")
    options = Options(mysql_replicas=2, gunicorn_config="gunicorn.conf.py")

    # when the cluster is planned with two replicas
    nodes = plan(tmp_path, options, new_secrets())

    # then each MariaDB has its own server id, and the app reads from both replicas in order
    mysql = [node for node in nodes.values() if node.kind == "mysql"]
    ids = [next(arg for arg in node.command if arg.startswith("--server-id=")) for node in mysql]
    assert [node.name for node in mysql] == ["mysql-primary", "mysql-replica", "mysql-replica2"]
    assert ids == ["--server-id=1", "--server-id=2", "--server-id=3"]
    uris = nodes["app1"].env["FLASK_MYSQL_REPLICA_URI"].split(",")
    assert [uri.rsplit(":", 1)[1] for uri in uris] == [
        f"{nodes[name].port}/imflask" for name in ("mysql-replica", "mysql-replica2")
    ]
    # and the sentinels' own password goes with the master's
    assert nodes["app1"].env["FLASK_REDIS_SENTINEL_PW"]
    assert nodes["app1"].env["FLASK_REDIS_SENTINEL_PW"] != nodes["app1"].env["FLASK_REDIS_PW"]


def test_a_sentinel_requires_the_password_it_is_given(tmp_path):
    keys = new_secrets()

    config = sentinel_config(6379, 26379, str(tmp_path), keys, down_after_ms=1000)

    assert f"requirepass {keys['sentinel_password']}" in config.splitlines()
    assert f"sentinel auth-pass imflask {keys['redis_password']}" in config.splitlines()


def test_no_mysql_replica_is_refused_by_name(monkeypatch, tmp_path):
    monkeypatch.setattr(binaries, "debian", lambda program: f"/usr/bin/{program}")
    with pytest.raises(ValueError, match="--mysql-replicas 0: the cluster needs 1 or more"):
        plan(tmp_path, Options(mysql_replicas=0), new_secrets())
