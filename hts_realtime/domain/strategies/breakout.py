"""Donchian-channel breakout: a price leaving the range of the previous prices."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import ClassVar, Self

from hts_realtime.domain.orders import Side
from hts_realtime.domain.strategies.base import Signal, Strategy, check_int

MIN_WINDOW = 2
MAX_WINDOW = 500


class Breakout(Strategy):
    """BUY above the highest, SELL below the lowest of the previous ``window`` prices.

    The channel is the previous ``window`` prices, not including the current
    one; touching the channel (price equal to its high or low) is not a
    breakout. Nothing is emitted until ``window`` prices have been seen.
    Like every strategy it never repeats a side, so a run of new highs gives
    one BUY.

    The high and low are recomputed from the window on each price: O(window)
    with window <= 500, simpler than a monotonic queue and fast enough for
    one price a second per symbol.
    """

    kind: ClassVar[str] = "breakout"
    DEFAULTS: ClassVar[Mapping[str, int | float]] = {"window": 20}

    def __init__(self, window: int = 20) -> None:
        super().__init__()
        self._window = check_int("window", window, MIN_WINDOW, MAX_WINDOW)
        self._prices: deque[int] = deque(maxlen=self._window)

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> Self:
        return cls(window=check_int("window", params["window"], MIN_WINDOW, MAX_WINDOW))

    def params(self) -> dict[str, int | float]:
        return {"window": self._window}

    def _evaluate(self, price: int) -> Signal | None:
        signal: Signal | None = None
        if len(self._prices) == self._window:
            high, low = max(self._prices), min(self._prices)
            if price > high:
                signal = Signal(
                    Side.BUY, f"price {price} broke above the {self._window}-price high {high}"
                )
            elif price < low:
                signal = Signal(
                    Side.SELL, f"price {price} broke below the {self._window}-price low {low}"
                )
        self._prices.append(price)
        return signal
