"""Jobs for the worker's fault tests (imported by the worker as ``sample_jobs``).

Each run appends ``<event> <job id> <pid> <time>`` to ``runs.log`` in the folder
it is given, so a test counts starts and ends without asking Redis (which it
kills).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rq import get_current_job

LOG = "runs.log"


def record(folder: str, event: str) -> None:
    job = get_current_job()
    line = f"{event} {job.id if job else '-'} {os.getpid()} {time.time():.3f}\n"
    with open(Path(folder) / LOG, "a") as log:  # one short append: never interleaved
        log.write(line)


def nap(folder: str, seconds: float, then_seconds: float | None = None) -> None:
    """Sleep ``seconds`` (``then_seconds`` on a job's later runs)."""
    job = get_current_job()
    ran_before = job is not None and any(
        line.split()[:2] == ["started", job.id] for line in read_runs(folder)
    )
    record(folder, "started")
    time.sleep(then_seconds if ran_before and then_seconds is not None else seconds)
    record(folder, "done")


def fail_first(folder: str) -> None:
    """Fail on the first run, succeed on the next."""
    job = get_current_job()
    failed_before = any(line.split()[:2] == ["failed", job.id] for line in read_runs(folder))
    if not failed_before:
        record(folder, "failed")
        raise RuntimeError("the first run fails")
    record(folder, "done")


def read_runs(folder: str) -> list[str]:
    try:
        return (Path(folder) / LOG).read_text().splitlines()
    except FileNotFoundError:
        return []
