"""The write path under concurrency and store faults, over real HTTP, on the test's own servers.

Every test here starts its own MariaDB, MongoDB-wire daemon and Redis (see
``testkit``), serves a testing app on them in a real threaded HTTP server and
checks exact outcomes: every acknowledged write present and whole, no 500,
failures are 503s with ``Retry-After``, no job lost or run twice. The figures
each test measures (503 windows, catch-up times) are printed: run with ``-s``
to see them.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from testkit.conduit import Account, new_user, sign_up
from testkit.fixtures import JOBS_QUEUE, MONGO_DB_NAME, worker_environment
from testkit.load import Outcome, by_status, http, percentile, run_load, summary
from testkit.servers import MariaDbServer, Program

pytestmark = pytest.mark.faults

WORKER = Path(sys.executable).parent / "imflask-worker"


def sign_up_many(base_url: str, usernames: list[str]) -> list[Account]:
    outcomes = run_load(
        lambda i: sign_up_outcome(base_url, usernames[i]),
        threads=4,
        count=len(usernames),
        seconds=30,
    )
    assert by_status(outcomes) == {201: len(usernames)}, summary(outcomes)
    return [
        Account(usernames[o.index], o.body["user"]["token"])
        for o in sorted(outcomes, key=lambda o: o.index)
    ]


def sign_up_outcome(base_url: str, username: str) -> Outcome:
    return http(base_url, "POST", "/api/users", json=new_user(username))


def publish(base_url: str, user: Account, title: str, tags: list[str], **fields) -> Outcome:
    article = {"title": title, "description": "d", "body": "b", "tagList": tags, **fields}
    return http(base_url, "POST", "/api/articles", headers=user.headers, json={"article": article})


def articles_with_tags(mariadb: MariaDbServer) -> dict[str, list[tuple[int, set[str]]]]:
    """Straight from MariaDB: title -> [(article id, its tag names)], one entry per row."""
    with mariadb.connect() as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT a.id, a.title, t.name FROM articles a "
            "LEFT JOIN article_tags at ON at.article_id = a.id "
            "LEFT JOIN tags t ON t.id = at.tag_id"
        )
        rows = cursor.fetchall()
    by_id: dict[int, tuple[str, set[str]]] = {}
    for article_id, title, tag in rows:
        by_id.setdefault(article_id, (title, set()))[1].update([tag] if tag else [])
    found: dict[str, list[tuple[int, set[str]]]] = {}
    for article_id, (title, tags) in sorted(by_id.items()):
        found.setdefault(title, []).append((article_id, tags))
    return found


def wait_until(check: Callable[[], bool], seconds: float, step: float = 0.05) -> float | None:
    """Seconds until ``check()`` was true, or None if it never was within ``seconds``."""
    began = time.monotonic()
    while True:
        if check():
            return time.monotonic() - began
        if time.monotonic() - began >= seconds:
            return None
        time.sleep(step)


def report(name: str, **figures: object) -> None:
    shown = ", ".join(
        f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()
    )
    print(f"\n[measured] {name}: {shown}")


# 1. Concurrent creates with overlapping tags ----------------------------------------


@pytest.mark.parametrize("writers", [2, 4, 20])
def test_concurrent_creates_with_overlapping_tags_all_succeed(
    fault_app, serve, mariadb_server, caplog, writers
):
    base_url = serve(fault_app())
    authors = sign_up_many(base_url, [f"writer{i}" for i in range(writers)])
    rounds = 5 if writers < 20 else 3
    total = writers * rounds
    # each round starts all its creates at once (one per thread: a thread waits here
    # until every other thread has its next create ready)
    together = threading.Barrier(writers, timeout=20)

    def tags_of(i: int) -> list[str]:
        # shared names, a new one, one shared with a neighbour; in opposite orders
        tags = ["shared", f"new-{i}", "common", f"pair-{i // 2}", f"round-{i // writers}"]
        return tags if i % 2 else tags[::-1]

    def create(i: int) -> Outcome:
        together.wait()
        return publish(base_url, authors[i % writers], f"Concurrent {i}", tags_of(i))

    caplog.set_level("INFO", logger="imflask_models.mysql.database")
    began = time.monotonic()
    outcomes = run_load(create, threads=writers, count=total, seconds=40)
    took = time.monotonic() - began

    assert by_status(outcomes) == {201: total}, (
        summary(outcomes),
        [o.body for o in outcomes if o.status != 201][:3],
    )
    listed = http(base_url, "GET", "/api/articles?tag=shared&limit=100")
    assert listed.body["articlesCount"] == total
    assert http(base_url, "GET", "/api/articles?tag=common&limit=1").body["articlesCount"] == total
    for outcome in outcomes:
        expected = sorted(set(tags_of(outcome.index)))
        article = outcome.body["article"]
        assert article["tagList"] == expected
        assert article["title"] == f"Concurrent {outcome.index}"
        read = http(base_url, "GET", f"/api/articles/{article['slug']}")
        assert read.status == 200
        assert sorted(read.body["article"]["tagList"]) == expected
    stored = articles_with_tags(mariadb_server)
    assert sorted(stored) == sorted(f"Concurrent {i}" for i in range(total))
    for i in range(total):
        assert [tags for _, tags in stored[f"Concurrent {i}"]] == [set(tags_of(i))]
    retries = caplog.text.count("transaction conflict")
    assert "store unavailable" not in caplog.text.lower()
    report(
        f"{writers} concurrent creates",
        creates=total,
        conflict_retries=retries,
        seconds=took,
        p99=percentile(outcomes, 0.99),
    )


# 2. MariaDB SIGKILLed and restarted under a mostly-write load -----------------------

LOAD_THREADS = 6
SEED_ARTICLES = 6
KILL_AFTER = 3.0
DOWN_FOR = 1.0
WINDOW_BOUND = 10.0


def load_tags(i: int) -> list[str]:
    return ["shared", f"t{i % 7}", f"u{i}"]


def test_acknowledged_writes_survive_a_mariadb_kill_and_the_503_window_is_bounded(
    fault_app, serve, mariadb_server
):
    base_url = serve(fault_app())
    users = sign_up_many(base_url, [f"loader{i}" for i in range(LOAD_THREADS)])
    seeds = []
    for k in range(SEED_ARTICLES):
        seeded = publish(base_url, users[k % len(users)], f"Seed {k}", ["seed"])
        assert seeded.status == 201, seeded
        seeds.append(seeded.body["article"]["slug"])

    kinds: dict[int, str] = {}

    def send(i: int) -> Outcome:
        user = users[i % len(users)]
        kind = i % 10
        if kind < 6:
            kinds[i] = "create"
            outcome = publish(base_url, user, f"Load {i}", load_tags(i))
        elif kind < 8:
            kinds[i] = "favorite"
            slug = seeds[(i // 10) % len(seeds)]
            outcome = http(base_url, "POST", f"/api/articles/{slug}/favorite", headers=user.headers)
        else:
            kinds[i] = "comment"
            slug = seeds[i % len(seeds)]
            outcome = http(
                base_url,
                "POST",
                f"/api/articles/{slug}/comments",
                headers=user.headers,
                json={"comment": {"body": f"comment {i}"}},
            )
        if outcome.status == 503:
            time.sleep(0.05)  # a client backing off a little, not a tight loop
        return outcome

    moments: dict[str, float] = {}

    def fault() -> None:
        time.sleep(KILL_AFTER)
        moments["killed"] = time.monotonic()
        mariadb_server.kill()
        time.sleep(DOWN_FOR)
        moments["restarting"] = time.monotonic()
        mariadb_server.restart()
        moments["ready"] = time.monotonic()

    faulting = threading.Thread(target=fault, daemon=True)
    faulting.start()
    # the load goes on for longer than the bound after MariaDB is back
    load_seconds = KILL_AFTER + DOWN_FOR + WINDOW_BOUND + 2
    outcomes = run_load(send, threads=LOAD_THREADS, count=5000, seconds=load_seconds)
    faulting.join(35)
    assert "ready" in moments, "MariaDB did not come back"

    # Nothing but successes and 503s with Retry-After; every request got an answer.
    statuses = by_status(outcomes)
    assert set(statuses) <= {200, 201, 503}, (summary(outcomes), _odd_ones(outcomes))
    unavailable = [o for o in outcomes if o.status == 503]
    assert unavailable, "the kill never showed: the load did not span the fault"
    assert all(o.headers and o.headers.get("Retry-After") for o in unavailable)
    assert all(o.body and "errors" in o.body for o in unavailable)
    assert any(o.ok and o.finished < moments["killed"] for o in outcomes)
    assert any(o.ok and o.started > moments["ready"] for o in outcomes)

    # The 503 window: how long after MariaDB answers again requests still fail.
    after_ready = [
        o.finished - moments["ready"] for o in unavailable if o.finished > moments["ready"]
    ]
    window = max(after_ready, default=0.0)
    first_ok_after = min(
        (o.started - moments["ready"] for o in outcomes if o.ok and o.started > moments["ready"]),
    )
    outage_seen = max(o.finished for o in unavailable) - min(o.started for o in unavailable)
    # A 503 only while MariaDB is down or coming back: none before the kill (a healthy
    # store never answers 503), none started later than the bound after it is back.
    assert all(o.finished >= moments["killed"] for o in unavailable), [
        (round(moments["killed"] - o.finished, 3), o.body)
        for o in unavailable
        if o.finished < moments["killed"]
    ][:5]
    assert window < WINDOW_BOUND, window
    assert all(o.started < moments["ready"] + WINDOW_BOUND for o in unavailable)

    # Every acknowledged write is there, whole; no article is half-applied, acknowledged
    # or not, and none was written twice.
    stored = articles_with_tags(mariadb_server)
    acknowledged = [o for o in outcomes if o.ok]
    for outcome in acknowledged:
        if kinds[outcome.index] == "create":
            title = f"Load {outcome.index}"
            assert title in stored, f"acknowledged create {title} is missing"
            assert outcome.body["article"]["tagList"] == sorted(load_tags(outcome.index))
    for title, rows in stored.items():
        if title.startswith("Load "):
            i = int(title.removeprefix("Load "))
            assert [tags for _, tags in rows] == [set(load_tags(i))], (title, rows)

    with mariadb_server.connect() as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT u.username, a.slug FROM favorites f "
            "JOIN users u ON u.id = f.user_id JOIN articles a ON a.id = f.article_id"
        )
        favorited = set(cursor.fetchall())
    for outcome in acknowledged:
        if kinds[outcome.index] == "favorite":
            article = outcome.body["article"]
            assert article["favorited"] is True
            pair = (users[outcome.index % len(users)].username, article["slug"])
            assert pair in favorited, f"acknowledged favorite {pair} is missing"

    comments_of = {}
    for slug in seeds:
        listed = http(base_url, "GET", f"/api/articles/{slug}/comments")
        assert listed.status == 200, listed
        comments_of[slug] = {c["id"]: c["body"] for c in listed.body["comments"]}
    for outcome in acknowledged:
        if kinds[outcome.index] == "comment":
            slug = seeds[outcome.index % len(seeds)]
            comment = outcome.body["comment"]
            assert comments_of[slug].get(comment["id"]) == f"comment {outcome.index}"

    by_kind = Counter((kinds[o.index], o.status) for o in outcomes)
    report(
        "MariaDB SIGKILL under write load",
        requests=len(outcomes),
        by_kind=dict(by_kind),
        mariadb_restart=moments["ready"] - moments["restarting"],
        down_total=moments["ready"] - moments["killed"],
        window_after_ready=window,
        first_ok_after_ready=first_ok_after,
        outage_seen_by_clients=outage_seen,
        slowest_503=max(o.elapsed for o in unavailable),
        p99=percentile(outcomes, 0.99),
    )


def _odd_ones(outcomes: list[Outcome]) -> list[tuple]:
    return [
        (o.index, o.status, o.error, o.body) for o in outcomes if o.status not in (200, 201, 503)
    ][:5]


# 3. Queued jobs survive a Redis that loses its data ---------------------------------

FOLLOWERS = 50
PUBLISHES = 20
CATCH_UP_BOUND = 30.0


def _author_with_followers(app, base_url: str) -> tuple[Account, list[Account]]:
    author = sign_up(base_url, "author")
    followers = sign_up_many(base_url, [f"follower{i}" for i in range(FOLLOWERS)])
    outcomes = run_load(
        lambda i: http(
            base_url, "POST", "/api/profiles/author/follow", headers=followers[i].headers
        ),
        threads=4,
        count=FOLLOWERS,
        seconds=30,
    )
    assert by_status(outcomes) == {200: FOLLOWERS}, summary(outcomes)
    return author, followers


def _publish_all(base_url: str, author: Account) -> list[Outcome]:
    # one after the other: what is tested is the queue, not concurrent creates (test 1)
    return run_load(
        lambda i: publish(base_url, author, f"News {i}", ["news"]),
        threads=1,
        count=PUBLISHES,
        seconds=30,
    )


def _start_worker(app, tmp_path: Path) -> Program:
    return Program([str(WORKER)], env=worker_environment(app), data_dir=tmp_path / "worker").start()


def _notified_exactly_once(mongo_server, followers: list[Account], article_ids: set[int]) -> None:
    with mongo_server.client() as client:
        docs = list(
            client[MONGO_DB_NAME]["notifications"].find(
                {}, {"user_id": 1, "article_id": 1, "kind": 1, "_id": 0}
            )
        )
    pairs = Counter((d["user_id"], d["article_id"]) for d in docs)
    assert max(pairs.values()) == 1, "a follower was notified twice of one article"
    assert {a for _, a in pairs} == article_ids
    assert len({u for u, _ in pairs}) == len(followers)
    assert len(docs) == len(followers) * len(article_ids)


def _notification_count(mongo_server) -> int:
    with mongo_server.client() as client:
        return client[MONGO_DB_NAME]["notifications"].count_documents({})


def _pending_outbox(mariadb_server: MariaDbServer) -> int:
    with mariadb_server.connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM outbox WHERE done_at IS NULL")
        return cursor.fetchone()[0]


def _job_runs(worker: Program) -> Counter:
    """How many times the worker ran the fan-out of each article (from its log)."""
    text = worker.log_path.read_text(errors="replace")
    return Counter(re.findall(r"article (\d+): \d+ new notifications", text))


def _article_ids(mariadb_server: MariaDbServer) -> set[int]:
    with mariadb_server.connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id FROM articles WHERE title LIKE 'News %%'")
        return {row[0] for row in cursor.fetchall()}


def test_queued_jobs_survive_redis_losing_its_data(
    fault_app, serve, mariadb_server, redis_server, mongo_server, tmp_path
):
    app = fault_app(jobs_inline=False)
    base_url = serve(app)
    author, followers = _author_with_followers(app, base_url)

    outcomes = _publish_all(base_url, author)
    assert by_status(outcomes) == {201: PUBLISHES}, summary(outcomes)
    client = redis_server.client()
    queued = client.llen(f"rq:queue:{JOBS_QUEUE}")
    assert queued >= PUBLISHES  # queued, nobody ran them yet
    assert _notification_count(mongo_server) == 0

    # Redis without persistence is killed: every queued job is gone.
    redis_server.kill()
    redis_server.restart()
    assert client.dbsize() == 0
    client.close()

    began = time.monotonic()
    worker = _start_worker(app, tmp_path)
    try:
        worker_up = time.monotonic() - began
        expected = FOLLOWERS * PUBLISHES
        caught_up = wait_until(
            lambda: _notification_count(mongo_server) >= expected, CATCH_UP_BOUND
        )
        assert caught_up is not None, (
            f"{_notification_count(mongo_server)} of {expected} notifications after "
            f"{CATCH_UP_BOUND} s\n{worker.log_tail()}"
        )
        _notified_exactly_once(mongo_server, followers, _article_ids(mariadb_server))
        done = wait_until(lambda: _pending_outbox(mariadb_server) == 0, 10)
        assert done is not None, f"{_pending_outbox(mariadb_server)} outbox jobs still pending"
        time.sleep(2.5)  # two more relay passes: nothing is queued again
        runs = _job_runs(worker)
        assert _notification_count(mongo_server) == expected
    finally:
        worker.kill()
    assert sorted(runs.values()) == [1] * PUBLISHES, runs
    report(
        "Redis emptied with 20 jobs queued",
        jobs_queued=queued,
        worker_start=worker_up,
        all_notified_after_worker_start=caught_up,
        notifications=expected,
    )


def test_publishes_while_redis_is_down_answer_201_and_their_jobs_run_once_it_is_back(
    fault_app, serve, mariadb_server, redis_server, mongo_server, tmp_path
):
    app = fault_app(jobs_inline=False)
    base_url = serve(app)
    author, followers = _author_with_followers(app, base_url)

    redis_server.kill()
    outcomes = _publish_all(base_url, author)
    assert by_status(outcomes) == {201: PUBLISHES}, (
        summary(outcomes),
        [o.body for o in outcomes if o.status != 201][:3],
    )
    assert _pending_outbox(mariadb_server) == PUBLISHES
    time.sleep(1.0)  # Redis stays down a while longer
    redis_server.restart()

    began = time.monotonic()
    worker = _start_worker(app, tmp_path)
    try:
        expected = FOLLOWERS * PUBLISHES
        caught_up = wait_until(
            lambda: _notification_count(mongo_server) >= expected, CATCH_UP_BOUND
        )
        assert caught_up is not None, (
            f"{_notification_count(mongo_server)} of {expected} notifications after "
            f"{CATCH_UP_BOUND} s\n{worker.log_tail()}"
        )
        caught_up = time.monotonic() - began
        _notified_exactly_once(mongo_server, followers, _article_ids(mariadb_server))
        done = wait_until(lambda: _pending_outbox(mariadb_server) == 0, 10)
        assert done is not None, f"{_pending_outbox(mariadb_server)} outbox jobs still pending"
        time.sleep(2.5)
        runs = _job_runs(worker)
    finally:
        worker.kill()
    assert sorted(runs.values()) == [1] * PUBLISHES, runs
    report(
        "publishes with Redis down",
        publish_p50=percentile(outcomes, 0.5),
        publish_max=max(o.elapsed for o in outcomes),
        all_notified_after_worker_start=caught_up,
    )


# 4. A connection lost right after the commit ----------------------------------------

# write -> the module attribute that marks the request's write. The fault follows the
# commit of the transaction that ran it, or the statement itself in autocommit mode.
WRITES = {
    "create": ("articles", "insert_article"),
    "favorite": ("favorites", "favorite"),
    "update": ("articles", "update_article"),
    "register": ("users", "insert_user"),
}


def lose_mariadb_after_the_commit_of(monkeypatch, module, name: str, lose: Callable) -> None:
    """Call ``lose()`` right after the commit of the write that runs ``module.name``."""
    from imflask_models.mysql.database import SqlConnection

    armed: dict[int, bool] = {}
    original_marker = getattr(module, name)

    def marked(conn, *args, **kwargs):
        result = original_marker(conn, *args, **kwargs)
        if getattr(conn._raw, "_transaction", False):
            armed[threading.get_ident()] = True  # the fault follows the COMMIT
        else:
            lose()  # autocommit: the statement was the commit
        return result

    original_commit = SqlConnection.commit

    def commit_then_lose(self):
        original_commit(self)
        if armed.pop(threading.get_ident(), False):
            lose()

    monkeypatch.setattr(module, name, marked)
    monkeypatch.setattr(SqlConnection, "commit", commit_then_lose)


def wait_ready(base_url: str, seconds: float = 10.0) -> float:
    """Seconds until /readyz answers 200 (the breakers closed); fails after ``seconds``."""
    took = wait_until(lambda: http(base_url, "GET", "/readyz", timeout=2).status == 200, seconds)
    assert took is not None, f"not ready {seconds} s after the store came back"
    return took


@pytest.mark.parametrize("fault", ["kill", "pause"])
@pytest.mark.parametrize("write", list(WRITES))
def test_a_write_whose_connection_is_lost_right_after_the_commit_answers_success(
    fault_app, serve, mariadb_server, monkeypatch, write, fault
):
    from imflask_models.mysql import articles, favorites, users

    app = fault_app()
    base_url = serve(app)
    jake = sign_up(base_url, "jake")
    if write in ("favorite", "update"):
        first = publish(base_url, jake, "Before the fault", ["alpha", "beta"])
        assert first.status == 201, first
        slug = first.body["article"]["slug"]

    # The write commits, then MariaDB goes away before anything else of the request runs.
    module_name, marker_name = WRITES[write]
    module = {"articles": articles, "favorites": favorites, "users": users}[module_name]
    faulted: list[float] = []

    def lose_mariadb() -> None:
        if not faulted:
            faulted.append(time.monotonic())
            if fault == "kill":
                mariadb_server.kill()
            else:
                mariadb_server.pause()

    lose_mariadb_after_the_commit_of(monkeypatch, module, marker_name, lose_mariadb)

    if write == "create":
        answer = publish(base_url, jake, "After the commit", ["gamma", "alpha"])
    elif write == "favorite":
        answer = http(base_url, "POST", f"/api/articles/{slug}/favorite", headers=jake.headers)
    elif write == "update":
        answer = http(
            base_url,
            "PUT",
            f"/api/articles/{slug}",
            headers=jake.headers,
            json={"article": {"title": "Renamed after the commit", "tagList": ["delta"]}},
        )
    else:
        answer = sign_up_outcome(base_url, "finn")
    monkeypatch.undo()
    assert faulted, "the fault never fired"
    if fault == "kill":
        mariadb_server.restart()
    else:
        mariadb_server.resume()
    ready_after = wait_ready(base_url)
    report(
        f"{write} with MariaDB lost ({fault}) after its commit",
        answered_in=answer.elapsed,
        ready_after_mariadb_back=ready_after,
    )

    expected_status = 201 if write in ("create", "register") else 200
    assert answer.status == expected_status, (answer.status, answer.body, answer.elapsed)
    if write == "register":
        user = answer.body["user"]
        assert (user["username"], user["email"]) == ("finn", "finn@example.org")
        with mariadb_server.connect() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM users WHERE username = 'finn'")
            assert cursor.fetchone() == (1,)
        me = http(base_url, "GET", "/api/user", headers={"Authorization": f"Token {user['token']}"})
        assert (me.status, me.body["user"]["username"]) == (200, "finn")
        return

    article = answer.body["article"]
    assert article["author"]["username"] == "jake"
    stored = articles_with_tags(mariadb_server)
    if write == "create":
        assert article["title"] == "After the commit"
        assert article["tagList"] == ["alpha", "gamma"]
        assert (article["favorited"], article["favoritesCount"]) == (False, 0)
        [(article_id, tags)] = stored["After the commit"]  # exactly once
        assert tags == {"alpha", "gamma"}
        # its fan-out could not run (inline, on the lost MariaDB): it waits in the outbox
        with mariadb_server.connect() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT kwargs FROM outbox WHERE done_at IS NULL")
            assert [row[0] for row in cursor.fetchall()] == [f'{{"article_id": {article_id}}}']
    elif write == "favorite":
        assert (article["favorited"], article["favoritesCount"]) == (True, 1)
        assert article["tagList"] == ["alpha", "beta"]
        with mariadb_server.connect() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM favorites")
            assert cursor.fetchone() == (1,)
    else:
        assert article["title"] == "Renamed after the commit"
        assert article["tagList"] == ["delta"]
        assert [tags for _, tags in stored["Renamed after the commit"]] == [{"delta"}]
        assert "Before the fault" not in stored
    read = http(base_url, "GET", f"/api/articles/{article['slug']}", headers=jake.headers)
    assert read.status == 200, read
    for field in ("title", "tagList", "favorited", "favoritesCount", "body"):
        assert read.body["article"][field] == article[field], field


def test_a_signup_whose_insert_lost_its_answer_is_not_refused_as_taken(
    fault_app, serve, mariadb_server, monkeypatch
):
    """MariaDB ran the INSERT but its answer never reached the app (a connection lost
    between the two): the account exists. The request must not say the username is
    taken by someone else, which is what a blind replay of the INSERT on a new
    connection says."""
    import pymysql

    base_url = serve(fault_app())
    original_execute = pymysql.cursors.Cursor.execute
    lost: list[str] = []

    def answer_lost(self, query, args=None):
        result = original_execute(self, query, args)
        if not lost and query.lstrip().upper().startswith("INSERT INTO USERS"):
            lost.append(query)
            self.connection._force_close()  # what a dropped connection leaves
            raise pymysql.err.OperationalError(2013, "Lost connection to server during query")
        return result

    monkeypatch.setattr(pymysql.cursors.Cursor, "execute", answer_lost)
    answer = sign_up_outcome(base_url, "finn")
    monkeypatch.undo()

    assert lost, "the fault never fired"
    # Whether the account was written (201) or the app cannot tell (503, retry later),
    # "taken" is false: nobody else has that name.
    assert answer.status in (201, 503), (answer.status, answer.body)
    with mariadb_server.connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM users WHERE username = 'finn'")
        (accounts,) = cursor.fetchone()
    if answer.status == 201:
        assert accounts == 1
    else:
        assert answer.headers.get("Retry-After")
        wait_ready(base_url)
        retried = sign_up_outcome(base_url, "finn")
        # written after all (in autocommit) -> the retry is refused, else it signs up
        assert (accounts, retried.status) == (0, 201), (accounts, retried.status, retried.body)


def test_a_create_retried_with_its_idempotency_key_after_a_lost_commit_answer_writes_once(
    fault_app, serve, mariadb_server, monkeypatch
):
    """The issue's item 2: the COMMIT ran but its answer was lost, so the app cannot
    know and answers 503; the client retries with the same ``Idempotency-Key`` and
    must get the article, written once, not a second copy."""
    import pymysql

    from imflask_models.mysql import articles

    base_url = serve(fault_app())
    jake = sign_up(base_url, "jake")
    armed: dict[int, bool] = {}
    lost: list[int] = []
    original_insert = articles.insert_article
    original_commit = pymysql.connections.Connection.commit

    def marked(*args, **kwargs):
        armed[threading.get_ident()] = True
        return original_insert(*args, **kwargs)

    def commit_answer_lost(self):
        original_commit(self)
        if armed.pop(threading.get_ident(), False) and not lost:
            lost.append(1)
            self._force_close()
            raise pymysql.err.OperationalError(2013, "Lost connection to server during query")

    monkeypatch.setattr(articles, "insert_article", marked)
    monkeypatch.setattr(pymysql.connections.Connection, "commit", commit_answer_lost)
    key = {**jake.headers, "Idempotency-Key": "2f1c7a52-create-once"}
    article = {"title": "Written once", "description": "d", "body": "b", "tagList": ["once"]}

    first = http(base_url, "POST", "/api/articles", headers=key, json={"article": article})
    monkeypatch.undo()
    assert lost, "the fault never fired"
    wait_ready(base_url)
    retried = http(base_url, "POST", "/api/articles", headers=key, json={"article": article})
    again = http(base_url, "POST", "/api/articles", headers=key, json={"article": article})

    assert first.status in (201, 503), first
    assert retried.status == 201, (retried.status, retried.body)
    assert retried.body["article"]["tagList"] == ["once"]
    assert (again.status, again.body) == (retried.status, retried.body)
    assert [tags for _, tags in articles_with_tags(mariadb_server)["Written once"]] == [{"once"}]


def test_a_create_sent_twice_with_one_idempotency_key_is_written_once(
    fault_app, serve, mariadb_server
):
    base_url = serve(fault_app())
    jake = sign_up(base_url, "jake")
    key = {**jake.headers, "Idempotency-Key": "9b0e-twice"}
    article = {"title": "Sent twice", "description": "d", "body": "b", "tagList": ["twice"]}

    outcomes = run_load(
        lambda i: http(base_url, "POST", "/api/articles", headers=key, json={"article": article}),
        threads=2,
        count=4,
        seconds=20,
    )

    ok = [o for o in outcomes if o.status == 201]
    assert ok, summary(outcomes)
    assert all(o.body == ok[0].body for o in ok)
    # a twin still running may be told to retry (409 or 503 with Retry-After), never a copy
    assert all(o.status in (201, 409, 503) for o in outcomes), summary(outcomes)
    assert len(articles_with_tags(mariadb_server)["Sent twice"]) == 1


def test_a_create_with_an_idempotency_key_that_lost_mariadb_after_its_commit_replays(
    fault_app, serve, mariadb_server, monkeypatch
):
    """The create commits, then MariaDB is killed: the answer is 201 but could not be
    stored with the key. A retry with the key (the client did not hear the 201) must
    get that article, not a 409 for a minute and then a second copy."""
    from imflask_models.mysql import articles

    base_url = serve(fault_app())
    jake = sign_up(base_url, "jake")
    lose_mariadb_after_the_commit_of(
        monkeypatch, articles, "insert_article", lambda: mariadb_server.kill()
    )
    key = {**jake.headers, "Idempotency-Key": "5d2e-after-commit"}
    article = {"title": "Answered once", "description": "d", "body": "b", "tagList": ["one"]}

    first = http(base_url, "POST", "/api/articles", headers=key, json={"article": article})
    monkeypatch.undo()
    mariadb_server.restart()
    wait_ready(base_url)
    retried = http(base_url, "POST", "/api/articles", headers=key, json={"article": article})
    time.sleep(1.2)  # (a claim without an answer once expired after a lease; none is left now)
    after_lease = http(base_url, "POST", "/api/articles", headers=key, json={"article": article})

    assert first.status == 201, first
    copies = len(articles_with_tags(mariadb_server)["Answered once"])
    assert (retried.status, after_lease.status, copies) == (201, 201, 1), (
        retried.status,
        retried.body,
        after_lease.status,
        copies,
    )
    assert retried.body == after_lease.body == first.body
