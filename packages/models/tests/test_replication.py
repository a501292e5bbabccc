"""Replication positions: merged per domain, kept in Redis, given to the cache's loaders.

The replicas themselves (lag, GTID waits, a hung replica) are proven on real
MariaDB processes by the topology suite (packages/app/tests/topology/).
"""

from __future__ import annotations

import re
import threading

from imflask_core.observability import metrics_text
from imflask_models import replication
from imflask_models.mysql.database import SqlDatabase
from imflask_models.mysql.replicas import ReadReplicas
from imflask_models.redis import cache, positions


def test_a_merged_position_keeps_the_largest_seq_of_each_domain():
    merged = replication.merge("0-1-42,1-5-7", None, "0-2-40", "", "1-5-9,2-1-1")

    assert merged == "0-1-42,1-5-9,2-1-1"
    assert replication.merge(None, "") is None


def test_an_applied_position_includes_only_positions_no_further_in_any_domain():
    applied = "0-1-42,1-5-7"

    assert replication.includes(applied, "0-2-42")  # the server id does not matter
    assert replication.includes(applied, "0-1-40,1-5-7")
    assert replication.includes(applied, None)  # nothing to see
    assert not replication.includes(applied, "0-1-43")
    assert not replication.includes(applied, "0-1-1,2-1-1")  # a domain it never applied
    assert not replication.includes(None, "0-1-1")


def test_a_unit_of_work_notes_only_what_it_wrote_since_it_began():
    replication.begin_unit()
    replication.note("0-1-5")
    replication.note("0-1-3")  # an older commit noted late never moves it back
    kept = replication.written()
    seen_elsewhere: list[str | None] = []
    other = threading.Thread(target=lambda: seen_elsewhere.append(replication.written()))
    other.start()
    other.join()
    replication.begin_unit()

    assert kept == "0-1-5"
    assert seen_elsewhere == [None]  # per thread: another request's writes are not mine
    assert replication.written() is None


def test_redis_merges_positions_so_racing_writers_never_move_one_back(ctx):
    store = ctx.stores.redis
    positions.remember_written(store, 7, "0-1-10", ttl=30)
    positions.remember_written(store, 7, "0-1-9,1-2-3", ttl=30)  # the slower of two writers

    assert positions.written_by(store, 7) == "0-1-10,1-2-3"
    assert positions.written_by(store, 8) is None
    assert 0 < store.client.ttl(positions.written_by_key(store, 7)) <= 30


def test_a_bump_and_its_positions_are_one_command_on_a_pipeline(ctx):
    # given a position already kept for one of two ids
    store = ctx.stores.redis
    pairs = [(store.key("gen", n), store.key("at", n)) for n in (1, 2)]
    store.client.set(pairs[0][1], "0-1-10")

    # when both are bumped with a position behind the bump
    pipe = store.client.pipeline(transaction=False)
    positions.bump_with_position(pipe, pairs, "0-1-9,1-2-3", ttl=60, position_ttl=30)

    # then that is one command (redis-py sends a pipeline holding a registered script after
    # a SCRIPT EXISTS of its own), and each generation and position moved forward
    assert len(pipe.command_stack) == 1
    assert not pipe.scripts
    assert pipe.execute() == [2]
    assert [store.client.get(gen) for gen, _ in pairs] == ["1", "1"]
    assert [store.client.get(at) for _, at in pairs] == ["0-1-10,1-2-3", "0-1-9,1-2-3"]
    assert 0 < store.client.ttl(pairs[0][0]) <= 60
    assert 0 < store.client.ttl(pairs[1][1]) <= 30


def test_invalidating_many_ids_after_a_write_sends_one_command(ctx):
    # given a write whose position is known (replicas configured)
    store = ctx.stores.redis
    replication.begin_unit()
    replication.note("0-1-5")
    scopes = [f"feed:{n}" for n in range(20)]  # a new article's followers' feeds

    # when its list scopes are bumped, watched by MONITOR
    with store.client.monitor() as monitor:
        cache.invalidate(store, cache.ARTICLE_LISTS, *scopes)
        store.client.echo("bumped")
        sent = []
        for command in monitor.listen():
            if command["command"] == "ECHO bumped":
                break
            # the app's commands on the lists' keys (not those the script ran, nor a new
            # connection's HELLO)
            if command.get("client_type") != "lua" and "article-lists" in command["command"]:
                sent.append(command["command"].split(" ", 1)[0])
    replication.begin_unit()

    # then Redis got one command for the 20 bumps and their positions, not 3 each
    assert sent == ["EVAL"]
    positions_at = [store.client.get(cache.ARTICLE_LISTS.position_key(store, s)) for s in scopes]
    assert positions_at == ["0-1-5"] * 20


def test_a_bump_records_the_position_behind_it_for_the_next_loader(ctx):
    store = ctx.stores.redis
    given: list[str | None] = []

    def load(after: str | None) -> list[str]:
        given.append(after)
        return ["page"]

    def read() -> list[str]:
        return cache.cached_after_writes(
            store, cache.ARTICLE_LISTS, "page", load, scopes=["every", "tag:a"], ttl=60
        )

    read()
    replication.begin_unit()
    replication.note("0-1-77")
    cache.invalidate(store, cache.ARTICLE_LISTS, "tag:a")
    replication.begin_unit()
    read()
    read()  # cached under the new generation

    assert given == [None, "0-1-77"]


def test_sqlite_never_asks_for_a_gtid(tmp_path):
    db = SqlDatabase(f"sqlite:///{tmp_path / 'x.sqlite3'}", track_writes=True)
    replication.begin_unit()
    with db.connection() as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO t (id) VALUES (1)")
    db.close()

    assert db.track_writes is False
    assert replication.written() is None


def _replica_reads(served_by: str) -> float:
    found = re.search(
        rf'^imflask_replica_reads_total{{served_by="{served_by}"}} (\S+)$',
        metrics_text().decode(),
        re.MULTILINE,
    )
    return float(found.group(1)) if found else 0.0


def test_replica_eligible_reads_are_counted_by_where_they_ran(tmp_path):
    primary = SqlDatabase(f"sqlite:///{tmp_path / 'primary.sqlite3'}")
    replica = SqlDatabase(f"sqlite:///{tmp_path / 'replica.sqlite3'}")  # a stand-in: never behind
    replicas = ReadReplicas(primary, [replica])
    before = {where: _replica_reads(where) for where in ("replica", "primary-no-replica")}

    on_replica = replicas.read(lambda conn: conn.scalar("SELECT 1"))
    replica.breaker.failed(RuntimeError("the replica stopped answering"))
    on_primary = replicas.read(lambda conn: conn.scalar("SELECT 2"))
    primary.close()
    replica.close()

    assert (on_replica, on_primary) == (1, 2)
    assert _replica_reads("replica") == before["replica"] + 1
    assert _replica_reads("primary-no-replica") == before["primary-no-replica"] + 1
