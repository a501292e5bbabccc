"""Errors every layer may raise or handle; nothing here imports Flask."""


class ConfigError(Exception):
    """The configuration cannot start this environment; the message says what to set."""


class StoreUnavailable(Exception):
    """A store (mysql, mongo or redis) could not be reached in time.

    Models raise it in place of the driver's connection and timeout errors,
    so the layers above can answer 503 without knowing any driver.
    """

    def __init__(self, store: str, detail: str = ""):
        self.store = store
        self.detail = detail
        super().__init__(f"{store} is unavailable" + (f": {detail}" if detail else ""))


class TransactionConflict(Exception):
    """The database chose a transaction as a deadlock victim, or a lock wait timed out.

    The store is healthy and nothing of the transaction was applied, so it can
    run again (``SqlDatabase.run_transaction`` does, a few times with jitter).
    It is never an outage: when the retries run out the answer is a 503 saying
    the store is busy, logged as a warning, without tripping any breaker.
    """
