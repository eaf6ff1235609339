"""Keyed token buckets: exact refill with a fake clock, refunds, and a bounded map."""

from __future__ import annotations

import pytest

from hts_realtime.domain.throttle import KeyedLimiter, retry_after_header


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate() -> None:
    clock = Clock()
    lim = KeyedLimiter(rate=0.5, burst=3, clock=clock)
    assert [lim.take("a") for _ in range(3)] == [0, 0, 0]
    assert lim.take("a") == pytest.approx(2.0)  # one token every 2 s
    assert lim.retry_after("a") == pytest.approx(2.0)
    clock.now += 1.5
    assert lim.take("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert lim.take("a") == 0
    assert lim.take("b") == 0  # keys are independent


def test_give_returns_a_token_but_never_above_the_burst() -> None:
    clock = Clock()
    lim = KeyedLimiter(rate=1, burst=2, clock=clock)
    lim.take("a")
    lim.take("a")
    assert lim.retry_after("a") > 0
    lim.give("a")
    assert lim.take("a") == 0
    lim.give("a")
    lim.give("a")
    lim.give("a")
    assert [lim.take("a") for _ in range(2)] == [0, 0] and lim.take("a") > 0


def test_the_map_is_bounded_and_forgets_refilled_keys_first() -> None:
    clock = Clock()
    lim = KeyedLimiter(rate=1, burst=1, max_keys=100, clock=clock)
    for i in range(100):
        lim.take(f"old{i}")
    clock.now += 10  # every old bucket is full again: forgettable
    lim.take("hot")
    clock.now += 0.1
    for i in range(50):
        lim.take(f"new{i}")
    assert len(lim) <= 100
    assert lim.retry_after("hot") > 0, "a key still limited was forgotten"
    for i in range(10_000):
        lim.take(f"spray{i}")
    assert len(lim) <= 100


def test_retry_after_header_is_whole_seconds_at_least_one() -> None:
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(1.0) == "1"
    assert retry_after_header(11.2) == "12"
