"""The job registry: background jobs are controller functions registered by a short name.

A use case's job sits beside it::

    @register_job("notify_followers")
    def notify_followers(ctx: Context, *, article_id: int) -> int: ...

``effects`` records it in the outbox with the write (see ``background``), the
outbox and the queue carry its name and keyword arguments, and ``run`` is the one
way any job runs: inline in the app (``FLASK_JOBS_INLINE``) and queued in
``imflask-worker`` alike, with the request id of the write that caused it in its
logs, its outcome counted, and its outbox entry marked done.

RQ needs one import path, the worker's entry point (``WORKER_ENTRY_POINT``), which
calls ``run`` with the name; no other job is named by its import path.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, TypeVar

import imflask_controllers
from imflask_controllers.context import Context
from imflask_core import tracing
from imflask_core.errors import StoreUnavailable
from imflask_core.observability import JOBS, request_id_var
from imflask_models.mysql import outbox

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# What RQ imports to run any job: ``imflask_worker.run.run_job(name, kwargs)``. The one
# import path that crosses a package boundary (controllers cannot import the worker);
# the worker checks on start that it names its entry point (``imflask_worker.run``).
WORKER_ENTRY_POINT = "imflask_worker.run.run_job"

# Until the release after this one: outbox rows recorded by the code before the registry
# name the job by its import path in the worker (``imflask_worker.jobs.<name>``).
_LEGACY_PREFIX = "imflask_worker.jobs."


class UnknownJob(LookupError):
    """No job is registered under this name."""


@dataclass(frozen=True)
class Job:
    name: str
    function: Callable[..., object]  # (ctx, **kwargs)


_registry: dict[str, Job] = {}
_names: dict[Callable[..., object], str] = {}


def register_job(
    name: str,
) -> Callable[[Callable[Concatenate[Context, P], R]], Callable[Concatenate[Context, P], R]]:
    """Register a controller function ``(ctx, **kwargs)`` as the job ``name``; it stays
    an ordinary function (call it directly to run it here, without the job's bookkeeping)."""

    def add(function: Callable[Concatenate[Context, P], R]) -> Callable[Concatenate[Context, P], R]:
        known = _registry.get(name)
        if known is not None and known.function is not function:
            raise ValueError(f"job {name!r} is already registered ({known.function.__qualname__})")
        _registry[name] = Job(name, function)
        _names[function] = name
        return function

    return add


def name_of(function: Callable[..., object], **kwargs: object) -> str:
    """The registered name of ``function``, once ``kwargs`` are known to fit it."""
    name = _names.get(function)
    if name is None:
        raise UnknownJob(f"{function.__qualname__} is not a registered job")
    inspect.signature(function).bind(None, **kwargs)  # a TypeError here, not in the worker
    return name


def current_name(recorded: str) -> str:
    """A job's name as recorded in the outbox, as it is registered today."""
    return recorded.removeprefix(_LEGACY_PREFIX)


def registered(name: str) -> Job:
    """The job registered as ``name`` (or, for one release, its old import path)."""
    name = current_name(name)
    if name not in _registry:
        load()
    try:
        return _registry[name]
    except KeyError:
        raise UnknownJob(f"no job is registered as {name!r}") from None


def names() -> list[str]:
    """Every registered job's name."""
    load()
    return sorted(_registry)


def load() -> None:
    """Import every controller module, which registers their jobs (a process that runs
    jobs may not have imported the use case of each)."""
    for module in pkgutil.iter_modules(imflask_controllers.__path__, "imflask_controllers."):
        importlib.import_module(module.name)


def run(
    ctx: Context,
    name: str,
    kwargs: dict[str, object],
    *,
    outbox_id: int | None = None,
    request_id: str | None = None,
    trace_context: dict[str, str] | None = None,
) -> object:
    """Run the job ``name``: with the queuing request's id in its logs, its outcome
    counted, and its outbox entry (``outbox_id``) marked done when it succeeds; with
    tracing on, in a span of the queuing request's trace (``trace_context``).

    A failure is logged and raised again: the queue retries it (see ``background``).
    """
    job = registered(name)
    token = request_id_var.set(request_id or "-")
    noted: dict[str, str | int] = {"request_id": request_id} if request_id else {}
    if outbox_id is not None:
        noted["outbox_id"] = outbox_id
    try:
        with tracing.job_span(job.name, trace_context, **noted):
            try:
                result = job.function(ctx, **kwargs)
            except Exception:
                JOBS.labels(job.name, "failed").inc()
                log.exception("job %s failed", job.name, extra={"job": job.name})
                raise
            JOBS.labels(job.name, "succeeded").inc()
            if outbox_id is not None:
                _mark_done(ctx, outbox_id)
            return result
    finally:
        request_id_var.reset(token)


def _mark_done(ctx: Context, outbox_id: int) -> None:
    """Tell the outbox the job ran; if MySQL cannot hear it, the relay runs it again later
    (jobs are idempotent), so this never fails the job."""
    try:
        with ctx.stores.sql.connection() as conn:
            outbox.mark_done(conn, [outbox_id])
    except StoreUnavailable as error:
        log.warning("outbox job %s ran but could not be marked done: %s", outbox_id, error)
