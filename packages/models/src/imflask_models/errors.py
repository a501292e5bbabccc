"""Errors the models raise in place of driver exceptions."""

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from imflask_core.errors import StoreUnavailable, TransactionConflict
from imflask_core.observability import store_call
from imflask_models.breaker import CircuitBreaker

__all__ = ["DuplicateKey", "StoreUnavailable", "TransactionConflict", "unavailable_on"]

P = ParamSpec("P")
R = TypeVar("R")


def unavailable_on(
    store: str, *failures: type[Exception], breaker_of: Callable[[Any], CircuitBreaker]
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A decorator: time the call as one ``store`` call, and turn the driver's connection
    and timeout errors (``failures``) into ``StoreUnavailable(store)``.

    The call goes through the store's breaker, found by ``breaker_of(first argument)``:
    while it is open the call fails at once, and each of those errors opens it.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            breaker = breaker_of(args[0])
            breaker.check()
            try:
                with store_call(store):
                    return function(*args, **kwargs)
            except failures as error:
                breaker.failed(error)
                raise StoreUnavailable(store, str(error)) from error

        return wrapper

    return decorate


class DuplicateKey(Exception):
    """A unique index refused a write; ``field`` names the column or key that clashed."""

    def __init__(self, field: str):
        self.field = field
        super().__init__(f"duplicate value for {field}")
