"""The outbox relay: hands the queue every recorded job it does not hold.

``imflask-worker`` runs it in a thread beside the RQ worker. Several workers
may each run one: a job relayed twice runs twice, which jobs are written to
bear (they are idempotent).
"""

from __future__ import annotations

import logging
import threading

from imflask_controllers import background
from imflask_controllers.context import Context
from imflask_core.errors import StoreUnavailable

log = logging.getLogger("imflask_worker")

RELAY_INTERVAL = 1.0  # seconds between passes while the stores answer
RELAY_MAX_BACKOFF = 15.0  # longest pause while a store does not


def run_relay(ctx: Context, stop: threading.Event, *, interval: float = RELAY_INTERVAL) -> None:
    """Relay the outbox every ``interval`` seconds until ``stop`` is set."""
    pause = interval
    while not stop.wait(pause):
        try:
            background.relay(ctx)
            pause = interval
        except StoreUnavailable as error:
            pause = min(pause * 2, RELAY_MAX_BACKOFF)
            log.warning("outbox relay paused %.0fs: %s", pause, error)
        except Exception:  # a relay that dies silently loses every later job
            pause = min(pause * 2, RELAY_MAX_BACKOFF)
            log.exception("outbox relay pass failed; trying again in %.0fs", pause)
