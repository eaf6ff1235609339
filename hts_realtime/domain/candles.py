"""Candles (OHLCV) built from the trades that print, and kept in the database.

``CandleBook`` folds every trade into the 1m, 5m, 1h and 1d candle it falls
in (KST boundaries: a 1d candle is a Korean calendar day, a 1h candle
starts on the hour in Korea time). Candles touched since the last flush
are held in memory and written in one transaction by ``flush()`` (every
``HTS_CANDLE_FLUSH_SECONDS`` and at shutdown); reads merge them over what
is on disk, so a chart always includes the live candle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hts_realtime.domain.market_hours import KST

INTERVALS: dict[str, int] = {"1m": 60, "5m": 300, "1h": 3600, "1d": 86400}
KST_OFFSET = 9 * 3600


def bucket(epoch: int, seconds: int) -> int:
    """The start (epoch seconds) of the candle holding ``epoch``, on KST boundaries."""
    return epoch - (epoch + KST_OFFSET) % seconds


@dataclass(slots=True)
class Candle:
    symbol: str
    interval: str
    start: int  # epoch seconds
    open: int
    high: int
    low: int
    close: int
    volume: int

    def add(self, price: int, quantity: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += quantity

    def to_wire(self) -> dict[str, Any]:
        return {
            "time": datetime.fromtimestamp(self.start, KST).isoformat(),
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
        }


def c_key(c: Candle) -> tuple[str, str]:
    return (c.symbol, c.interval)
