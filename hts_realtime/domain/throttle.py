"""Keyed token buckets: a rate per key (a user, a username, an address).

Each key has a bucket of ``burst`` tokens refilled at ``rate`` per second;
a bucket that has refilled to full is the same as no bucket, so the map
forgets it. The map is bounded (``max_keys``): when full, refilled buckets
go first, then the least recently used, so an attacker rotating keys costs
memory up to the bound and no more. Time comes from a clock you can pass in
(tests).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class KeyedLimiter:
    def __init__(self, rate: float, burst: int, *, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key: (tokens, at)

    def _level(self, key: str, now: float) -> float:
        entry = self._buckets.get(key)
        if entry is None:
            return float(self.burst)
        tokens, at = entry
        return min(float(self.burst), tokens + (now - at) * self.rate)

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` has a token (0 when it has one now)."""
        level = self._level(key, self._clock())
        return 0.0 if level >= 1 else (1 - level) / self.rate

    def take(self, key: str) -> float:
        """Take a token: 0 when taken, else the seconds to wait (nothing taken)."""
        now = self._clock()
        level = self._level(key, now)
        if level < 1:
            return (1 - level) / self.rate
        self._buckets[key] = (level - 1, now)
        self._buckets.move_to_end(key)
        if len(self._buckets) > self.max_keys:
            self._shrink(now)
        return 0.0

    def give(self, key: str) -> None:
        """Return a token taken by ``take`` (the attempt turned out not to count)."""
        entry = self._buckets.get(key)
        if entry is not None:
            now = self._clock()
            self._buckets[key] = (min(float(self.burst), self._level(key, now) + 1), now)

    def _shrink(self, now: float) -> None:
        full = [k for k in self._buckets if self._level(k, now) >= self.burst]
        for k in full:
            del self._buckets[k]
        # down to 90 %, so the scan above runs once per many inserts, not on each
        while len(self._buckets) > self.max_keys * 9 // 10:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
