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
