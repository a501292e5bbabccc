"""Read replicas of the MySQL primary, and which database may serve a read now.

``ReadReplicas.read(work, after=position)`` runs the read-only ``work(conn)``
on a replica that

- answers (its own circuit breaker is closed: a replica that is down or hung
  costs one deadline per process, then is skipped until its probe answers),
- lags at most ``max_lag`` seconds (``SHOW SLAVE STATUS``, asked at most once
  per ``lag_check_every`` seconds per replica and process; a replica whose
  replication threads stopped counts as lagging), and
- has applied ``after``, the position the reader must see (``MASTER_GTID_WAIT``
  with a zero timeout: it answers at once; the same query reads what the replica
  has applied, ``@@gtid_slave_pos``, and for ``lag_check_every`` seconds a
  position within that one needs no query: a replica never un-applies),

trying the replicas in turn, and else on the primary. A replica that fails in
the middle of ``work`` is given up for this read and ``work`` runs again on
the next candidate, so a read answers as long as the primary does.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from imflask_core.observability import REPLICA_READS
from imflask_models import replication
from imflask_models.errors import StoreUnavailable
from imflask_models.mysql.database import SqlConnection, SqlDatabase

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_MAX_LAG = 10.0
LAG_CHECK_EVERY = 1.0
HAS_APPLIED = "SELECT MASTER_GTID_WAIT(%(position)s, 0) AS missing, @@gtid_slave_pos AS applied"
SHOW_REPLICA_STATUS = "SHOW SLAVE STATUS"
# The privilege SHOW SLAVE STATUS needs (1227: access denied to this operation).
_ACCESS_DENIED = {1227, 1142}


@dataclass
class _Lag:
    """What this process last learned of one replica's lag."""

    seconds: float | None = None  # None: replication is not running (or never asked)
    checked_at: float = float("-inf")
    unmeasurable: bool = False  # the user may not ask: trusted, with one warning


class ReadReplicas:
    """The replicas of one primary for this process (an empty list: every read is the
    primary's, at no cost)."""

    def __init__(
        self,
        primary: SqlDatabase,
        replicas: list[SqlDatabase],
        *,
        max_lag: float = DEFAULT_MAX_LAG,
        lag_check_every: float = LAG_CHECK_EVERY,
    ):
        self.primary = primary
        self.replicas = replicas
        self.max_lag = max_lag
        self.lag_check_every = lag_check_every
        self._lags = {id(replica): _Lag() for replica in replicas}
        # What each replica had applied when last asked, and when (monotonic).
        self._applied: dict[int, tuple[str | None, float]] = {}
        self._lock = threading.Lock()
        self._turn = itertools.count()

    def __bool__(self) -> bool:
        return bool(self.replicas)

    def read(self, work: Callable[[SqlConnection], T], *, after: str | None = None) -> T:
        """``work(conn)`` on the first fit replica (see the module), else on the primary."""
        served_by = "primary-no-replica"
        for replica in self._candidates():
            try:
                with replica.connection() as conn:
                    if after and not self._has_applied(replica, conn, after):
                        served_by = "primary-behind"
                        continue  # behind what this reader must see
                    result = work(conn)
                REPLICA_READS.labels("replica").inc()
                return result
            except StoreUnavailable as error:  # its breaker is open now: skipped from here on
                self._applied.pop(id(replica), None)  # it may come back rebuilt: ask again
                log.info("replica %s skipped: %s", replica.name, error)
        with self.primary.connection() as conn:
            result = work(conn)
        REPLICA_READS.labels(served_by).inc()
        return result

    def status(self, replica: SqlDatabase) -> str:
        """``ok`` if ``replica`` answers and lags at most ``max_lag``, else ``degraded``;
        for ``/readyz``, which stays 200 on a degraded replica."""
        if replica.breaker.is_open and not replica.breaker.probe_now():
            return "degraded"
        try:
            lag = self._measure(replica)
        except StoreUnavailable:
            return "degraded"
        return "ok" if self._fit(lag) else "degraded"

    def _candidates(self) -> list[SqlDatabase]:
        """Replicas that answer and do not lag too much, starting with the next in turn."""
        if not self.replicas:
            return []
        start = next(self._turn) % len(self.replicas)
        ordered = self.replicas[start:] + self.replicas[:start]
        fit = []
        for replica in ordered:
            if not replica.breaker.allows():
                continue
            try:
                lag = self._lag(replica)
            except StoreUnavailable as error:
                log.info("replica %s skipped: %s", replica.name, error)
                continue
            if self._fit(lag):
                fit.append(replica)
        return fit

    def _fit(self, lag: _Lag) -> bool:
        return lag.unmeasurable or (lag.seconds is not None and lag.seconds <= self.max_lag)

    def _lag(self, replica: SqlDatabase) -> _Lag:
        """The last measure if recent, else a new one (by one caller; the others keep
        using the last one meanwhile)."""
        lag = self._lags[id(replica)]
        now = time.monotonic()
        if now - lag.checked_at < self.lag_check_every:
            return lag
        with self._lock:
            if now - lag.checked_at < self.lag_check_every:
                return lag
            lag.checked_at = now  # claimed: concurrent readers do not ask too
        return self._measure(replica)

    def _measure(self, replica: SqlDatabase) -> _Lag:
        lag = self._lags[id(replica)]
        if not replica.dialect.replicates:  # a stand-in (the same file): never behind
            lag.seconds, lag.checked_at = 0.0, time.monotonic()
            return lag
        try:
            with replica.connection() as conn:
                status = conn.one(SHOW_REPLICA_STATUS)
        except StoreUnavailable as error:
            cause = error.__cause__
            if cause is not None and cause.args and cause.args[0] in _ACCESS_DENIED:
                if not lag.unmeasurable:
                    log.warning(
                        "replica %s: cannot read its lag (grant REPLICA MONITOR or "
                        "REPLICATION CLIENT); trusting it: %s",
                        replica.name,
                        error,
                    )
                lag.unmeasurable = True
                return lag
            lag.seconds, lag.checked_at = None, time.monotonic()
            raise
        lag.checked_at = time.monotonic()
        lag.seconds = _seconds_behind(status)
        return lag

    def _has_applied(self, replica: SqlDatabase, conn: SqlConnection, position: str) -> bool:
        """Whether ``replica`` has applied ``position``: from what it said it had applied
        less than ``lag_check_every`` ago, else asked (one query, which also reads that)."""
        if not conn.dialect.replicates:  # a stand-in replica is the primary's own file
            return True
        applied, asked_at = self._applied.get(id(replica), (None, float("-inf")))
        now = time.monotonic()
        if now - asked_at < self.lag_check_every and replication.includes(applied, position):
            return True
        row = conn.one(HAS_APPLIED, {"position": position})
        assert row is not None  # a SELECT of two values answers one row
        self._applied[id(replica)] = (row["applied"], now)
        return row["missing"] == 0


def _seconds_behind(status: dict | None) -> float | None:
    """Seconds behind the primary, or None when it does not replicate (threads stopped).

    A server that shows no replica status at all is not behind anything this app can
    see (a managed reader endpoint, or the primary standing in): 0.
    """
    if not status:
        return 0.0
    if status.get("Slave_IO_Running") != "Yes" or status.get("Slave_SQL_Running") != "Yes":
        return None
    behind = status.get("Seconds_Behind_Master")
    return None if behind is None else float(behind)
