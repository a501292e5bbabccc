"""A real ``imflask-worker`` on its own redis-server, which the tests kill, pause and restart.

The jobs are ``sample_jobs`` (this folder): each run leaves a line in a file, so
a test counts runs exactly without asking the Redis it breaks. The Redis has no
persistence: after a restart it is empty, as after a failover to a fresh
server at the same address (the jobs queued before are lost; that is the
outbox's to fix, not the worker's).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from imflask_models.redis import jobs
from imflask_models.redis.client import RedisStore
from testkit.servers import Program, RedisServer

pytestmark = pytest.mark.faults

WORKER = Path(sys.executable).parent / "imflask-worker"
HERE = Path(__file__).resolve().parent
QUEUE = "imflask_faults"
# A short window for most tests; the default's own test proves it is under a minute.
ABANDONED_AFTER = 4
# The supervisor's backoff is capped at 5 s; then a start of the worker and a job.
BACK_WITHIN = 8.0


class Runs:
    """The ``runs.log`` that the sample jobs write: (event, job id, pid, time) per line."""

    def __init__(self, folder: Path):
        self.folder = folder

    def lines(self) -> list[tuple[str, str, int, float]]:
        from sample_jobs import read_runs

        return [
            (event, job_id, int(pid), float(at))
            for event, job_id, pid, at in (line.split() for line in read_runs(str(self.folder)))
        ]

    def of(self, job_id: str, event: str) -> list[tuple[str, str, int, float]]:
        return [line for line in self.lines() if line[1] == job_id and line[0] == event]

    def wait(self, job_id: str, event: str, count: int = 1, timeout: float = 30.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(job_id, event)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(
            f"job {job_id}: {count}x {event} not seen in {timeout}s: {self.lines()}"
        )


@pytest.fixture
def runs(tmp_path) -> Runs:
    sys.path.insert(0, str(HERE))  # sample_jobs, for reading runs.log
    yield Runs(tmp_path)
    sys.path.remove(str(HERE))


@pytest.fixture
def enqueue(redis_server: RedisServer, runs: Runs) -> Callable[..., str]:
    """``enqueue(job, retry_intervals=(1,), **kwargs)`` through the models' enqueue."""
    store = RedisStore(redis_server.url, "imflask_faults:", connect_timeout=1, read_timeout=2)

    def put(name: str, retry_intervals=(1,), **kwargs) -> str:
        return jobs.enqueue(
            store,
            QUEUE,
            f"sample_jobs.{name}",
            retry_intervals=retry_intervals,
            request_id="faults",
            folder=str(runs.folder),
            **kwargs,
        )

    yield put
    store.close()


@pytest.fixture
def start_worker(redis_server: RedisServer, tmp_path) -> Callable[..., Program]:
    """``start_worker(name, **env)``: a real ``imflask-worker`` process on ``redis_server``."""
    started: list[Program] = []
    client = redis_server.client()

    def start(name: str, **extra_env: str) -> Program:
        env = {
            **os.environ,
            "FLASK_CONFIG": "testing",
            "FLASK_INSTANCE_PATH": str(tmp_path / "instance"),
            "FLASK_MYSQL_URI": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
            "FLASK_MONGO_URI": "mongodb://127.0.0.1:9/?directConnection=true",  # unused
            "FLASK_REDIS_URL": redis_server.url,
            "FLASK_JOBS_QUEUE": QUEUE,
            "FLASK_JOB_ABANDONED_AFTER": str(ABANDONED_AFTER),
            "FLASK_LOG_LEVEL": "INFO",
            "PYTHONPATH": str(HERE),
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }

        def registered() -> bool:
            key = f"rq:worker:{name}"
            return bool(client.exists(key)) and not client.hexists(key, "death")

        program = Program(
            [str(WORKER), "--name", name], env=env, data_dir=tmp_path / name, ready=registered
        )
        started.append(program.start(timeout=30))
        return program

    yield start
    for program in started:
        program.kill()
    client.close()


def until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``condition()`` held; fails after ``timeout``."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(0.05)
    return time.monotonic() - began


def test_the_worker_outlives_redis_dying_while_it_runs_a_job(
    redis_server, start_worker, enqueue, runs, capsys
):
    # given a worker running a job
    worker = start_worker("survivor")
    back_after = []
    for _ in range(3):
        running = enqueue("nap", seconds=1.5)
        runs.wait(running, "started")

        # when Redis dies under it, the job ends while Redis is down, and Redis comes back
        redis_server.kill()
        runs.wait(running, "done")
        time.sleep(1.0)
        assert worker.running, worker.log_tail()
        redis_server.restart()  # empty: no persistence
        restarted = time.monotonic()

        # then the same process takes new jobs within a few seconds
        probe = enqueue("nap", seconds=0)
        runs.wait(probe, "done", timeout=BACK_WITHIN)
        back_after.append(time.monotonic() - restarted)

    assert worker.running
    with capsys.disabled():
        print(f"\nRedis back -> a new job done, a job running at the kill: {back_after}")


def test_the_worker_outlives_redis_dying_while_idle_and_takes_jobs_from_the_new_server(
    redis_server, start_worker, enqueue, runs, capsys
):
    # given an idle worker
    worker = start_worker("idle")
    done = enqueue("nap", seconds=0)
    runs.wait(done, "done")

    # when Redis is killed, stays down for 6 s, and a fresh server takes its address
    redis_server.kill()
    time.sleep(6.0)
    redis_server.restart()
    restarted = time.monotonic()

    # then the worker takes a job from it within a few seconds, and is registered there
    probe = enqueue("nap", seconds=0)
    runs.wait(probe, "done", timeout=BACK_WITHIN)
    took = time.monotonic() - restarted
    assert worker.running
    assert redis_server.client().sismember(f"rq:workers:{QUEUE}", "rq:worker:idle")
    with capsys.disabled():
        print(f"\nRedis back -> a new job done, idle worker: {took:.2f}s")


def test_a_jobs_retry_runs_on_time_after_redis_restarted_under_the_worker(
    redis_server, start_worker, enqueue, runs, capsys
):
    # given a worker whose scheduler saw Redis die and come back empty
    worker = start_worker("scheduler")
    redis_server.kill()
    time.sleep(3.0)
    redis_server.restart()
    probe = enqueue("nap", seconds=0)
    runs.wait(probe, "done", timeout=BACK_WITHIN)

    # when a job fails, to be retried after 1 s
    failing = enqueue("fail_first", retry_intervals=(1,))
    (failed,) = runs.wait(failing, "failed")
    (done,) = runs.wait(failing, "done", timeout=10)

    # then the retry ran about 1 s later (the scheduler is alive: it moved it to the queue)
    waited = done[3] - failed[3]
    assert waited < 1 + 2.5, waited
    assert worker.running
    with capsys.disabled():
        print(f"\n1 s retry after a Redis restart ran after {waited:.2f}s")


def test_a_jobs_retry_runs_on_time_after_redis_paused(
    redis_server, start_worker, enqueue, runs, capsys
):
    # given a failed job waiting 3 s for its retry
    worker = start_worker("paused")
    failing = enqueue("fail_first", retry_intervals=(3,))
    (failed,) = runs.wait(failing, "failed")

    # when Redis hangs (SIGSTOP) for 2 s of that
    with redis_server.paused():
        time.sleep(2.0)

    # then the retry still runs on time, and once
    (done,) = runs.wait(failing, "done", timeout=15)
    waited = done[3] - failed[3]
    assert waited < 3 + 2.5, waited
    time.sleep(1.0)
    assert len(runs.of(failing, "done")) == 1
    assert worker.running
    with capsys.disabled():
        print(f"\n3 s retry across a 2 s Redis pause ran after {waited:.2f}s")


def test_a_job_running_through_a_redis_pause_runs_once(redis_server, start_worker, enqueue, runs):
    # given a worker running a 2 s job
    worker = start_worker("pause-during-job")
    running = enqueue("nap", seconds=2.0)
    runs.wait(running, "started")

    # when Redis hangs for 3 s while it runs
    with redis_server.paused():
        time.sleep(3.0)

    # then it ran exactly once, and the worker goes on
    runs.wait(running, "done")
    probe = enqueue("nap", seconds=0)
    runs.wait(probe, "done", timeout=BACK_WITHIN)
    assert len(runs.of(running, "started")) == 1
    assert worker.running


@pytest.mark.parametrize("abandoned_after", [ABANDONED_AFTER, None], ids=["short", "default"])
def test_a_job_abandoned_by_a_killed_worker_is_run_again_by_another(
    redis_server, start_worker, enqueue, runs, capsys, abandoned_after
):
    # given two workers, one of them running a long job (short on its later runs)
    env = {"FLASK_JOB_ABANDONED_AFTER": str(abandoned_after or "")}  # "": the default
    workers = [start_worker("one", **env), start_worker("two", **env)]
    job_id = enqueue("nap", seconds=300, then_seconds=0, retry_intervals=(2,))
    (started,) = runs.wait(job_id, "started")
    (victim,) = [w for w in workers if w.pid == started[2]]
    (other,) = [w for w in workers if w is not victim]

    # when that worker is SIGKILLed (its scheduler with it)
    victim.kill()
    killed = time.time()

    # then the other worker runs the job again, within a minute
    window = 60 if abandoned_after is None else 3 * abandoned_after + 2 + 3
    rerun = runs.wait(job_id, "started", count=2, timeout=window)[1]
    runs.wait(job_id, "done", timeout=5)
    assert rerun[2] == other.pid
    took = rerun[3] - killed
    assert took < window
    with capsys.disabled():
        label = f"FLASK_JOB_ABANDONED_AFTER={abandoned_after or 'default (20)'}"
        print(f"\nabandoned job re-run {took:.1f}s after the SIGKILL ({label})")
