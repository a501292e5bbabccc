"""Time the fan-out: N published articles of an author with F followers, one real worker.

    uv run python bench/fanout.py                             # MariaDB + Redis on 127.0.0.1
    uv run python bench/fanout.py --followers 2000 --articles 10 --empty-jobs 200
    uv run python bench/fanout.py --store sqlite              # embedded stores only

Seeds F+1 users into fresh stores (a throw-away MariaDB database, a Redis key
prefix and queue of its own; MongoDB is the embedded MongoDB-wire daemon unless
FLASK_MONGO_URI is set), makes F of them follow the first, publishes N articles
through ``articles.create_article`` with the jobs queued (not inline), then runs
one real ``imflask-worker --burst`` (or ``--workers`` side by side) and times it. Prints jobs/s and
followers/s (notifications written) over the worker's whole run and over its
busy part (first job started to last job ended), and how many notifications
exist afterwards (must be F*N). ``--empty-jobs`` first times that many jobs
that do next to nothing: what a job costs the worker beyond its work.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pymysql
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # bench/run.py: the throw-away stores on the shared servers

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(sys.executable).parent / "imflask-worker"
REDIS_SERVER = bench.REDIS_SERVER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["mysql", "sqlite"], default="mysql")
    parser.add_argument("--followers", type=int, default=2000)
    parser.add_argument("--articles", type=int, default=10)
    parser.add_argument("--empty-jobs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1, help="burst workers run side by side")
    args = parser.parse_args()

    run_id = uuid.uuid4().hex[:8]
    workdir = Path(tempfile.mkdtemp(prefix="imflask-fanout-"))
    os.environ.update(_environment(args.store, run_id, workdir))
    from imflask_controllers.context import bootstrap

    ctx = bootstrap(migrate=True)
    try:
        if args.empty_jobs:
            _time_empty_jobs(ctx, args.empty_jobs, args.workers)
        _time_fan_out(ctx, args.followers, args.articles, args.workers)
    finally:
        _cleanup(ctx, args.store, run_id, workdir)


def _environment(store: str, run_id: str, workdir: Path) -> dict[str, str]:
    env = {
        "FLASK_CONFIG": "development",
        "FLASK_INSTANCE_PATH": str(workdir / "instance"),
        "FLASK_LOG_LEVEL": "WARNING",
        "FLASK_JOBS_INLINE": "0",
        "FLASK_JOBS_QUEUE": f"imflask_bench_{run_id}",
        "FLASK_MONGO_DB_NAME": f"imflask_bench_{run_id}",
    }
    if store == "mysql":
        env.update(bench.throwaway_mysql_and_redis(run_id))
    return env


def _time_empty_jobs(ctx, count: int, workers: int) -> None:
    """Jobs whose work is one indexed Mongo delete of nothing: the per-job overhead."""
    from imflask_controllers import articles, background

    for _ in range(count):
        background.enqueue(
            ctx, articles.delete_comments_of_article, retry_intervals=(), request_id="bench",
            article_id=0,
        )  # fmt: skip
    wall, busy, done = _run_workers(ctx, workers)
    print(
        f"empty jobs: {done} in {wall:.2f} s with start-up ({done / wall:.1f} jobs/s), "
        f"busy {busy:.2f} s ({done / busy:.1f} jobs/s, {busy / done * 1000:.1f} ms per job)",
        flush=True,
    )


def _time_fan_out(ctx, followers: int, count: int, workers: int) -> None:
    from imflask_controllers import articles, seeding
    from imflask_models.mongo import notifications as inbox
    from imflask_models.mysql import follows
    from imflask_models.mysql import users as users_table

    seeding.seed(
        ctx,
        seeding.SeedPlan(users=followers + 1, articles=0, follows_per_user=0, favorites_per_user=0),
    )
    with ctx.stores.sql.transaction() as conn:
        ids = [row["id"] for row in conn.all("SELECT id FROM users ORDER BY id")]
        follows.follow_many(conn, [(fan, ids[0]) for fan in ids[1:]])
        author = users_table.user_by_id(conn, ids[0])
    for i in range(count):
        articles.create_article(
            ctx, author=author, title=f"News {i}", description="d", body="b", tags=[]
        )
    wall, busy, done = _run_workers(ctx, workers)
    notices = ctx.stores.mongo.db[inbox.NOTIFICATIONS].count_documents({})
    expected = followers * count
    print(
        f"fan-out: {count} articles x {followers} followers: {done} jobs, {notices} notifications"
        f" ({'all' if notices == expected else f'expected {expected}'})\n"
        f"  whole run {wall:.2f} s: {done / wall:.1f} jobs/s, {notices / wall:,.0f} followers/s\n"
        f"  busy      {busy:.2f} s: {done / busy:.1f} jobs/s, {notices / busy:,.0f} followers/s, "
        f"{busy / count:.2f} s per article",
        flush=True,
    )


def _run_workers(ctx, workers: int) -> tuple[float, float, int]:
    """Run ``imflask-worker --burst`` N times at once: (wall s, busy s, jobs finished)."""
    from rq.registry import FinishedJobRegistry

    from imflask_models.redis import jobs

    queue = jobs.queue(ctx.stores.redis, ctx.settings.jobs_queue)
    registry = FinishedJobRegistry(queue=queue)
    before = set(registry.get_job_ids())
    started = time.perf_counter()
    processes = [
        subprocess.Popen([str(WORKER), "--burst"], stderr=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in range(workers)
    ]
    errors = [p.communicate()[1] for p in processes]
    wall = time.perf_counter() - started
    if any(p.returncode for p in processes):
        sys.exit("a worker failed:\n" + "\n".join(errors))
    finished = [
        job
        for job in queue.job_class.fetch_many(
            [i for i in registry.get_job_ids() if i not in before], connection=queue.connection
        )
        if job is not None
    ]
    if queue.count or not finished:
        sys.exit(f"{queue.count} jobs left, {len(finished)} finished:\n" + "\n".join(errors))
    busy = (
        max(job.ended_at for job in finished) - min(job.started_at for job in finished)
    ).total_seconds()
    return wall, busy, len(finished)


def _cleanup(ctx, store: str, run_id: str, workdir: Path) -> None:
    from rq.registry import FinishedJobRegistry

    from imflask_core import embedded
    from imflask_models.redis import jobs

    finished = FinishedJobRegistry(queue=jobs.queue(ctx.stores.redis, ctx.settings.jobs_queue))
    for job_id in finished.get_job_ids():
        finished.remove(job_id, delete_job=True)
    jobs.drop_queue(ctx.stores.redis, ctx.settings.jobs_queue)
    if os.environ.get("FLASK_MONGO_URI"):  # a server of yours: drop the run's database
        import pymongo

        with pymongo.MongoClient(os.environ["FLASK_MONGO_URI"], socketTimeoutMS=120_000) as c:
            c.drop_database(ctx.settings.mongo_db_name)
    ctx.close()
    if store == "mysql":
        with pymysql.connect(host="127.0.0.1", user="root") as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS imflask_bench_{run_id}")
        client = redis.Redis.from_url(REDIS_SERVER)
        for key in client.scan_iter(match=f"imflask_bench_{run_id}:*", count=1000):
            client.delete(key)
    embedded.stop(workdir / "instance")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
