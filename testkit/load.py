"""A bounded load generator and a small HTTP client that records instead of raising.

``run_load(send, threads=8, count=500, seconds=10)`` calls ``send(i)`` for
i = 0, 1, 2, ... from several threads until ``count`` calls were started or
``seconds`` have passed, whichever comes first, and returns one
:class:`Outcome` per call in the order the calls were started.
"""

from __future__ import annotations

import itertools
import json as jsonlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from http.client import HTTPConnection, HTTPException
from typing import Any
from urllib.parse import urlsplit

# A send that never returns would hang the run: join gives up this long after the deadline.
JOIN_GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class Outcome:
    """One request: when it started (``time.monotonic()``), how long it took, what came back.

    ``status`` is None when no response arrived, and then ``error`` says why.
    ``body`` is the JSON object of the response (None when the body is not a
    JSON object). ``index`` is the ``i`` that ``run_load`` passed to ``send``.
    """

    started: float
    elapsed: float
    status: int | None
    body: dict | None
    error: str | None
    index: int | None = None
    headers: Mapping[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def finished(self) -> float:
        return self.started + self.elapsed


def http(
    base_url: str,
    method: str,
    path: str,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    source: str | None = None,
) -> Outcome:
    """One HTTP request on a new connection; connection errors and timeouts become ``error``.

    ``source`` binds the client socket to that local address (e.g. ``127.0.0.2``), so a
    test can be several clients as a proxy in front of the app sees them.
    """
    parts = urlsplit(base_url)
    assert parts.hostname, f"no host in {base_url!r}"
    sent_headers = {"Accept": "application/json", **(headers or {})}
    payload = None
    if json is not None:
        payload = jsonlib.dumps(json).encode()
        sent_headers.setdefault("Content-Type", "application/json")
    started = time.monotonic()
    source_address = (source, 0) if source else None
    conn = HTTPConnection(
        parts.hostname, parts.port, timeout=timeout, source_address=source_address
    )
    try:
        conn.request(method, parts.path.rstrip("/") + path, body=payload, headers=sent_headers)
        response = conn.getresponse()
        raw = response.read()
        status, response_headers = response.status, dict(response.getheaders())
    except (OSError, HTTPException) as error:
        return Outcome(started, time.monotonic() - started, None, None, _describe(error))
    finally:
        conn.close()
    return Outcome(
        started, time.monotonic() - started, status, _json_object(raw), None,
        headers=response_headers,
    )  # fmt: skip


def run_load(
    send: Callable[[int], Outcome | tuple],
    *,
    threads: int,
    count: int | None = None,
    seconds: float = 10.0,
) -> list[Outcome]:
    """Call ``send(i)`` from ``threads`` threads until ``count`` calls or ``seconds`` passed.

    ``send`` returns an :class:`Outcome` (e.g. from :func:`http`) or a tuple
    ``(status, body)`` / ``(status, body, error)``, timed here. An exception
    raised by ``send`` is recorded as an outcome with ``error`` set.
    """
    if threads < 1:
        raise ValueError("threads must be at least 1")
    deadline = time.monotonic() + seconds
    indexes = itertools.count()
    lock = threading.Lock()
    outcomes: list[Outcome] = []

    def next_index() -> int | None:
        with lock:
            i = next(indexes)
        if (count is not None and i >= count) or time.monotonic() >= deadline:
            return None
        return i

    def worker() -> None:
        while (i := next_index()) is not None:
            outcome = _timed(send, i)
            with lock:
                outcomes.append(outcome)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(max(0.0, deadline - time.monotonic()) + JOIN_GRACE_SECONDS)
    if any(thread.is_alive() for thread in pool):
        raise TimeoutError(
            f"a send() call still runs {JOIN_GRACE_SECONDS} s after the {seconds} s load "
            "ended; give every request a timeout"
        )
    return sorted(outcomes, key=lambda o: (o.started, o.index or 0))


def _timed(send: Callable[[int], Outcome | tuple], i: int) -> Outcome:
    started = time.monotonic()
    try:
        result = send(i)
    except Exception as error:
        return Outcome(started, time.monotonic() - started, None, None, _describe(error), i)
    elapsed = time.monotonic() - started
    if isinstance(result, Outcome):
        return replace(result, index=i)
    status, body, *rest = result
    return Outcome(started, elapsed, status, body, rest[0] if rest else None, i)


# Summaries --------------------------------------------------------------------------


def by_status(outcomes: Iterable[Outcome]) -> dict[int | str, int]:
    """How many outcomes per status; those without a response count under ``"error"``."""
    return dict(Counter(o.status if o.status is not None else "error" for o in outcomes))


def errors(outcomes: Iterable[Outcome]) -> dict[str, int]:
    """How many outcomes per error text (only those without a response)."""
    return dict(Counter(o.error for o in outcomes if o.error is not None))


def slowest(outcomes: Iterable[Outcome], n: int = 5) -> list[Outcome]:
    return sorted(outcomes, key=lambda o: o.elapsed, reverse=True)[:n]


def percentile(outcomes: Iterable[Outcome], fraction: float) -> float:
    """The elapsed time below which ``fraction`` (0..1) of the outcomes fall (nearest rank)."""
    times = sorted(o.elapsed for o in outcomes)
    if not times:
        return 0.0
    rank = max(0, min(len(times) - 1, int(-(-fraction * len(times) // 1)) - 1))
    return times[rank]


def p99(outcomes: Iterable[Outcome]) -> float:
    return percentile(outcomes, 0.99)


def summary(outcomes: Iterable[Outcome]) -> str:
    """One line for an assertion message: count, statuses, p50/p99/max, errors."""
    outcomes = list(outcomes)
    if not outcomes:
        return "no requests"
    worst = max(o.elapsed for o in outcomes)
    return (
        f"{len(outcomes)} requests, by status {by_status(outcomes)}, "
        f"p50 {percentile(outcomes, 0.5):.3f} s, p99 {p99(outcomes):.3f} s, max {worst:.3f} s"
        + (f", errors {errors(outcomes)}" if errors(outcomes) else "")
    )


def _json_object(raw: bytes) -> dict | None:
    try:
        value = jsonlib.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
