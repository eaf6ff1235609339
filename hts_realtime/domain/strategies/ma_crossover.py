"""Moving-average crossover: the short SMA crossing the long SMA."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import ClassVar, Self

from hts_realtime.domain.orders import Side
from hts_realtime.domain.strategies.base import Signal, Strategy, StrategyParamsError, check_int

MIN_WINDOW = 2
MAX_WINDOW = 500
_SHORT_RANGE = (MIN_WINDOW, MAX_WINDOW - 1)  # short < long, so each gives up one end
_LONG_RANGE = (MIN_WINDOW + 1, MAX_WINDOW)


class MaCrossover(Strategy):
    """Simple moving averages over the last ``short_window`` and ``long_window`` prices.

    BUY when the short SMA goes from <= the long SMA to > it; SELL when it
    goes from >= to <. Nothing is emitted before ``long_window`` prices have
    been seen, and the first full comparison only sets the state: a
    crossover needs a previous comparison to cross from.

    The comparison is exact integer arithmetic: short_sum / short vs
    long_sum / long is decided as short_sum * long vs long_sum * short, so
    two averages that differ by a fraction of a won are never confused by
    float rounding.
    """

    kind: ClassVar[str] = "ma_crossover"
    DEFAULTS: ClassVar[Mapping[str, int | float]] = {"short_window": 5, "long_window": 20}

    def __init__(self, short_window: int = 5, long_window: int = 20) -> None:
        super().__init__()
        self._short = check_int("short_window", short_window, *_SHORT_RANGE)
        self._long = check_int("long_window", long_window, *_LONG_RANGE)
        if self._short >= self._long:
            raise StrategyParamsError(
                f"short_window must be less than long_window, got {self._short} >= {self._long}",
                "short_window",
            )
        # Two windows with running sums: O(1) per price, memory bounded by maxlen.
        self._short_prices: deque[int] = deque(maxlen=self._short)
        self._long_prices: deque[int] = deque(maxlen=self._long)
        self._short_sum = 0
        self._long_sum = 0
        self._prev_sign: int | None = None  # sign of (short SMA - long SMA) last time

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> Self:
        return cls(
            short_window=check_int("short_window", params["short_window"], *_SHORT_RANGE),
            long_window=check_int("long_window", params["long_window"], *_LONG_RANGE),
        )

    def params(self) -> dict[str, int | float]:
        return {"short_window": self._short, "long_window": self._long}

    def _evaluate(self, price: int) -> Signal | None:
        self._short_sum += price - _evicted(self._short_prices)
        self._short_prices.append(price)
        self._long_sum += price - _evicted(self._long_prices)
        self._long_prices.append(price)
        if len(self._long_prices) < self._long:
            return None
        diff = self._short_sum * self._long - self._long_sum * self._short
        sign = (diff > 0) - (diff < 0)
        prev, self._prev_sign = self._prev_sign, sign
        if prev is None:
            return None
        if prev <= 0 < sign:
            return Signal(Side.BUY, f"MA({self._short}) crossed above MA({self._long})")
        if prev >= 0 > sign:
            return Signal(Side.SELL, f"MA({self._short}) crossed below MA({self._long})")
        return None


def _evicted(window: deque[int]) -> int:
    """The price that appending to ``window`` will push out (0 while it is filling)."""
    return window[0] if len(window) == window.maxlen else 0
