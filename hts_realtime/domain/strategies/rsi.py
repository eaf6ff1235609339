"""Wilder's Relative Strength Index with oversold/overbought thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Self

from hts_realtime.domain.orders import Side
from hts_realtime.domain.strategies.base import (
    Signal,
    Strategy,
    StrategyParamsError,
    check_int,
    check_number,
)

MIN_PERIOD = 2
MAX_PERIOD = 200


class Rsi(Strategy):
    """RSI over ``period`` price changes, Wilder's smoothing.

    The first average gain (loss) is the simple mean of the first ``period``
    gains (losses); after that each average is
    ``(previous * (period - 1) + current) / period``. RSI is
    ``100 - 100 / (1 + avg_gain / avg_loss)``, and 100 when the average loss
    is 0 (including a flat market, where both averages are 0). The first RSI
    needs ``period + 1`` prices.

    Signals follow the common "leaving the zone" convention:

    * BUY when RSI crosses up through ``oversold``: the previous RSI was
      below ``oversold`` and the current one is at or above it (the market
      is recovering from oversold);
    * SELL when RSI crosses down through ``overbought``: the previous RSI was
      above ``overbought`` and the current one is at or below it.

    The first RSI only sets the state; a crossing needs a previous value.
    """

    kind: ClassVar[str] = "rsi"
    DEFAULTS: ClassVar[Mapping[str, int | float]] = {
        "period": 14,
        "oversold": 30,
        "overbought": 70,
    }

    def __init__(
        self, period: int = 14, oversold: int | float = 30, overbought: int | float = 70
    ) -> None:
        super().__init__()
        self._period = check_int("period", period, MIN_PERIOD, MAX_PERIOD)
        self._oversold = check_number("oversold", oversold, 0, 100)
        self._overbought = check_number("overbought", overbought, 0, 100)
        if self._oversold >= self._overbought:
            raise StrategyParamsError(
                f"oversold must be less than overbought, got {oversold} >= {overbought}",
                "oversold",
            )
        # Scalars only: the seed phase keeps sums, not the changes themselves.
        self._prev_price: int | None = None
        self._seed_count = 0
        self._seed_gain = 0
        self._seed_loss = 0
        self._avg_gain = 0.0
        self._avg_loss = 0.0
        self._rsi: float | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> Self:
        return cls(
            period=check_int("period", params["period"], MIN_PERIOD, MAX_PERIOD),
            oversold=check_number("oversold", params["oversold"], 0, 100),
            overbought=check_number("overbought", params["overbought"], 0, 100),
        )

    def params(self) -> dict[str, int | float]:
        return {"period": self._period, "oversold": self._oversold, "overbought": self._overbought}

    @property
    def rsi(self) -> float | None:
        """The latest RSI, or None until ``period + 1`` prices have been seen."""
        return self._rsi

    def _evaluate(self, price: int) -> Signal | None:
        prev_price, self._prev_price = self._prev_price, price
        if prev_price is None:
            return None
        change = price - prev_price
        gain, loss = max(change, 0), max(-change, 0)
        if self._seed_count < self._period:
            self._seed_count += 1
            self._seed_gain += gain
            self._seed_loss += loss
            if self._seed_count < self._period:
                return None
            self._avg_gain = self._seed_gain / self._period
            self._avg_loss = self._seed_loss / self._period
        else:
            keep = self._period - 1
            self._avg_gain = (self._avg_gain * keep + gain) / self._period
            self._avg_loss = (self._avg_loss * keep + loss) / self._period
        rsi = _rsi(self._avg_gain, self._avg_loss)
        prev_rsi, self._rsi = self._rsi, rsi
        if prev_rsi is None:
            return None
        if prev_rsi < self._oversold <= rsi:
            return Signal(
                Side.BUY, f"RSI({self._period}) crossed above {self._oversold} ({rsi:.2f})"
            )
        if prev_rsi > self._overbought >= rsi:
            return Signal(
                Side.SELL, f"RSI({self._period}) crossed below {self._overbought} ({rsi:.2f})"
            )
        return None


def _rsi(avg_gain: float, avg_loss: float) -> float:
    if avg_loss == 0:
        return 100.0
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
