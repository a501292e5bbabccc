"""One circuit breaker per store and process: once a store failed, callers fail at once.

Closed, every call goes ahead. The first connection or timeout error opens it;
from then on every caller of that store in this process gets ``StoreUnavailable``
(or its documented degraded answer) without touching the network, so a hung
server costs one deadline, not one per request. While it is open a background
thread of this process calls the store's probe every ``retry_every`` seconds;
the first probe that succeeds, with no new failure since it was sent, closes it.
Requests never wait for a probe, and the probe is the only way back to closed:
for Redis it is the cache epoch bump that makes every value cached before a
skipped invalidation unreadable (see ``redis/cache.py``).

A business error (a duplicate key, a deadlock victim) is an answer, not a
failure: only what the store's code turns into ``StoreUnavailable`` counts.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from types import MethodType

from imflask_core.errors import StoreUnavailable
from imflask_core.observability import STORE_BREAKER_TRIPS

log = logging.getLogger(__name__)

Probe = Callable[[], object]

_ALL: weakref.WeakSet[CircuitBreaker] = weakref.WeakSet()


class CircuitBreaker:
    """Closed or open; thread-safe; the probe runs in its own thread while open."""

    def __init__(self, store: str, probe: Probe, *, retry_every: float = 0.5):
        self.store = store
        self.retry_every = retry_every
        # A bound method is held weakly: a forgotten store's prober ends with it.
        self._probe: Callable[[], Probe | None] = (
            weakref.WeakMethod(probe) if isinstance(probe, MethodType) else (lambda: probe)
        )
        self._lock = threading.Lock()
        self._opened_at: float | None = None  # None while closed
        self._failures = 0  # every failure ever recorded: a probe older than the last one is void
        self._last_error = ""
        self._probing = False  # a prober thread runs (set and cleared under the lock)
        self._in_prober = threading.local()  # .active: this thread is the prober
        _ALL.add(self)

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def allows(self) -> bool:
        """May this caller use the store now? Always yes for the probe itself."""
        if self._opened_at is None:  # one attribute read on the healthy path
            return True
        if getattr(self._in_prober, "active", False):
            return True
        self._ensure_prober()
        return False

    def check(self) -> None:
        """Raise ``StoreUnavailable`` at once unless the store may be used now."""
        if not self.allows():
            raise StoreUnavailable(self.store, f"failing fast after: {self._last_error}")

    def failed(self, error: BaseException) -> None:
        """A call could not reach the store in time: open (or keep open) the breaker."""
        with self._lock:
            self._failures += 1
            self._last_error = str(error) or type(error).__name__
            opened = self._opened_at is None
            if opened:
                self._opened_at = time.monotonic()
        if opened:
            STORE_BREAKER_TRIPS.labels(self.store).inc()
            log.warning("%s unavailable, failing fast until a probe answers: %s", self.store, error)
        self._ensure_prober()

    def close(self) -> None:
        """Back to closed, and stop probing (the store is being closed; a new client
        starts afresh)."""
        with self._lock:
            self._opened_at = None

    def _ensure_prober(self) -> None:
        if self._probing:
            return
        with self._lock:
            if self._opened_at is None or self._probing:
                return
            self._probing = True
        threading.Thread(
            target=self._probe_until_closed, name=f"{self.store}-probe", daemon=True
        ).start()

    def probe_now(self) -> bool:
        """Run the probe in this thread (``/readyz``): True if the store answers, and then
        the breaker is closed. One deadline at most, never a stale "down"."""
        probe = self._probe()
        if probe is None:
            return False
        active = getattr(self._in_prober, "active", False)
        self._in_prober.active = True
        try:
            return self._try(probe)
        finally:
            self._in_prober.active = active

    def _try(self, probe: Probe) -> bool:
        failures = self._failures
        try:
            probe()
        except Exception as error:  # every kind of failure keeps it open
            self._last_error = str(error) or type(error).__name__
            return False
        with self._lock:
            if self._failures != failures:  # it failed again meanwhile: not proven
                return False
            opened_at, self._opened_at = self._opened_at, None
        if opened_at is not None:
            log.warning("%s answers again, after %.1fs", self.store, time.monotonic() - opened_at)
        return True

    def _probe_until_closed(self) -> None:
        self._in_prober.active = True
        try:
            while self._still_open():
                time.sleep(self.retry_every)
                probe = self._probe()
                if probe is None:  # the store is gone
                    break
                self._try(probe)
            else:
                return  # _still_open() said closed and let go of the prober flag
        except BaseException:
            with self._lock:
                self._probing = False
            raise
        with self._lock:
            self._probing = False

    def _still_open(self) -> bool:
        """While open, keep probing. Closed: this prober ends, in the same locked step
        in which a new failure would look for a running prober (so it starts one)."""
        with self._lock:
            if self._opened_at is None:
                self._probing = False
                return False
            return True

    def _after_fork_in_child(self) -> None:
        # Threads do not survive a fork and a lock may have been held: start afresh,
        # keeping the state (an open breaker starts its own prober on next use).
        self._lock = threading.Lock()
        self._probing = False


def _after_fork_in_child() -> None:
    for breaker in list(_ALL):
        breaker._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
