"""Candles (OHLCV) built from the trades that print, and kept in the database.

``CandleBook`` folds every trade into the 1m, 5m, 1h and 1d candle it falls
in (KST boundaries: a 1d candle is a Korean calendar day, a 1h candle
starts on the hour in Korea time). Candles touched since the last flush
are held in memory and written in one transaction by ``flush()`` (every
``HTS_CANDLE_FLUSH_SECONDS`` and at shutdown); reads merge them over what
is on disk, so a chart always includes the live candle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hts_realtime.domain.market import Quote
from hts_realtime.domain.orderbook import Trade
from hts_realtime.domain.sessions import KST

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


class CandleStorage(Protocol):
    def latest(self, symbols: Iterable[str], intervals: Iterable[str]) -> list[Candle]: ...

    def read(self, symbol: str, interval: str, limit: int) -> list[Candle]: ...

    def write(self, candles: Iterable[Candle]) -> None: ...

    def is_empty(self) -> bool: ...


class CandleBook:
    def __init__(self, store: CandleStorage, symbols: Iterable[str]) -> None:
        self.store = store
        self._live: dict[tuple[str, str], Candle] = {
            c_key(c): c for c in store.latest(list(symbols), INTERVALS)}
        self._dirty: dict[tuple[str, str, int], Candle] = {}

    def on_quotes(self, quotes: list[Quote]) -> None:
        """Market-feed listener: fold each step's trades in."""
        for q in quotes:
            for t in q.trades:
                self.add(t)

    def add(self, trade: Trade) -> None:
        epoch = int(trade.timestamp.timestamp())
        for interval, seconds in INTERVALS.items():
            start = bucket(epoch, seconds)
            key = (trade.symbol, interval)
            c = self._live.get(key)
            if c is None or c.start != start:
                if c is not None and c.start > start:
                    continue  # a clock step backwards: never rewrite a later candle
                c = Candle(trade.symbol, interval, start, trade.price, trade.price,
                           trade.price, trade.price, 0)
                self._live[key] = c
            c.add(trade.price, trade.quantity)
            self._dirty[(trade.symbol, interval, start)] = c

    def add_candles(self, candles: Iterable[Candle]) -> None:
        """Seeded history: whole candles, written at the next flush."""
        for c in candles:
            live = self._live.get(c_key(c))
            if live is None or live.start <= c.start:
                self._live[c_key(c)] = c
            self._dirty[(c.symbol, c.interval, c.start)] = c

    def flush(self) -> int:
        """Write what changed since the last flush; returns how many candles."""
        if not self._dirty:
            return 0
        dirty, self._dirty = self._dirty, {}
        try:
            self.store.write(dirty.values())
        except BaseException:
            # nothing was written: keep them for the next flush (newer changes win)
            dirty.update(self._dirty)
            self._dirty = dirty
            raise
        return len(dirty)

    def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        """The latest ``limit`` candles, oldest first, the live one last."""
        rows = {c.start: c for c in self.store.read(symbol, interval, limit)}
        for (sym, iv, start), c in self._dirty.items():
            if sym == symbol and iv == interval:
                rows[start] = c
        return [rows[s] for s in sorted(rows)[-limit:]]


def c_key(c: Candle) -> tuple[str, str]:
    return (c.symbol, c.interval)
