"""The circuit breaker each store has per process: fail fast while open, a probe closes it."""

from __future__ import annotations

import threading
import time

import pytest

from imflask_models.breaker import CircuitBreaker
from imflask_models.errors import StoreUnavailable
from imflask_models.redis import cache
from imflask_models.redis.client import RedisStore


class Probe:
    """A probe that fails until told otherwise, counting its calls."""

    def __init__(self) -> None:
        self.answers = False
        self.calls = 0
        self.released = threading.Event()  # a hung store: each call waits for it
        self.released.set()

    def __call__(self) -> None:
        self.calls += 1
        self.released.wait()
        if not self.answers:
            raise ConnectionError("still down")


def wait_until(condition, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_closed_breaker_lets_every_call_through():
    breaker = CircuitBreaker("mysql", Probe(), retry_every=0.05)

    assert breaker.allows()
    breaker.check()  # no exception
    assert not breaker.is_open


def test_after_one_failure_callers_fail_at_once_until_a_probe_answers():
    probe = Probe()
    breaker = CircuitBreaker("mysql", probe, retry_every=0.05)

    probe.released.clear()  # the store hangs: a caller that waited for a probe would too
    breaker.failed(ConnectionError("refused"))
    raised: list[StoreUnavailable] = []

    def call() -> None:
        try:
            breaker.check()
        except StoreUnavailable as error:
            raised.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    caller.join(timeout=5)
    assert not caller.is_alive(), "a caller waited for the hung probe"
    (error,) = raised
    probe.released.set()
    assert wait_until(lambda: probe.calls >= 2)  # probing in the background, still down
    still_open = breaker.is_open
    probe.answers = True

    assert error.store == "mysql"
    assert "refused" in str(error)
    assert still_open
    assert wait_until(lambda: not breaker.is_open)
    assert breaker.allows()


def test_a_failure_while_the_probe_runs_keeps_the_breaker_open():
    breaker: CircuitBreaker
    probed = threading.Event()
    release = threading.Event()
    calls = []

    def probe() -> None:
        calls.append(1)
        if len(calls) == 1:
            probed.set()
            release.wait(2)  # a request fails while this first probe is on the wire

    breaker = CircuitBreaker("redis", probe, retry_every=0.05)
    breaker.failed(TimeoutError("first"))
    assert probed.wait(2)
    breaker.failed(TimeoutError("during the probe"))
    release.set()

    assert wait_until(lambda: not breaker.is_open)
    assert len(calls) >= 2  # the first probe's success did not count


def test_the_probe_thread_itself_may_use_the_store():
    seen = []
    breaker: CircuitBreaker

    def probe() -> None:
        seen.append(breaker.allows())

    breaker = CircuitBreaker("mongo", probe, retry_every=0.02)
    breaker.failed(ConnectionError("x"))

    assert wait_until(lambda: not breaker.is_open)
    assert seen == [True]


def test_many_threads_failing_at_once_start_one_prober():
    probe = Probe()
    breaker = CircuitBreaker("one-prober-test", probe, retry_every=0.05)

    threads = [
        threading.Thread(target=breaker.failed, args=(ConnectionError("x"),)) for _ in range(32)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rejected = sum(not breaker.allows() for _ in range(1000))
    # counted by name: other tests' threads may come and go meanwhile
    probers = sum(t.name == "one-prober-test-probe" for t in threading.enumerate())
    probe.answers = True

    assert rejected == 1000
    assert probers == 1
    assert wait_until(lambda: not breaker.is_open)


def test_probing_now_closes_an_open_breaker_if_the_store_answers():
    probe = Probe()
    breaker = CircuitBreaker("mysql", probe, retry_every=60)  # no background probe in time
    breaker.failed(ConnectionError("x"))

    still_down = breaker.probe_now()
    probe.answers = True
    answers = breaker.probe_now()

    assert (still_down, answers) == (False, True)
    assert not breaker.is_open


def test_it_opens_again_after_closing_when_the_store_fails_again():
    probe = Probe()
    probe.answers = True
    breaker = CircuitBreaker("redis", probe, retry_every=0.02)

    breaker.failed(ConnectionError("one"))
    assert wait_until(lambda: not breaker.is_open)
    breaker.failed(ConnectionError("two"))

    assert breaker.is_open
    assert wait_until(lambda: not breaker.is_open)
    assert probe.calls == 2


def test_an_unreachable_redis_is_tried_once_then_skipped_at_once():
    store = RedisStore("redis://127.0.0.1:1/0", "x:", connect_timeout=0.5, read_timeout=0.5)
    with pytest.raises(StoreUnavailable):
        store.ping()

    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.ping()
    value = cache.cached(store, cache.TAGS, "popular", lambda: ["loaded"], ttl=60)

    assert time.monotonic() - started < 0.05
    assert value == ["loaded"]
    assert store.breaker.is_open
    store.close()


def test_a_value_cached_before_a_skipped_invalidation_is_never_served_again(
    ctx, make_context, monkeypatch
):
    # Two instances on one Redis: "a" skips an invalidation while its breaker is open,
    # "b" never saw a failure. Once a's probe has run, b refuses the old value too.
    a, b = ctx.stores.redis, make_context().stores.redis
    monkeypatch.setattr(a.breaker, "retry_every", 0.05)
    assert cache.cached(b, cache.ARTICLE, "s", lambda: "old", ttl=60) == "old"

    a.breaker.failed(ConnectionError("blip"))
    cache.invalidate(a, cache.ARTICLE, "s")  # skipped: the breaker is open
    skipped_and_still_cached = cache.cached(b, cache.ARTICLE, "s", lambda: "new", ttl=60)

    assert skipped_and_still_cached == "old"  # the window: until a's probe answers
    assert wait_until(lambda: not a.breaker.is_open)
    assert cache.cached(b, cache.ARTICLE, "s", lambda: "new", ttl=60) == "new"
    assert cache.cached(a, cache.ARTICLE, "s", lambda: "newer", ttl=60) == "new"
