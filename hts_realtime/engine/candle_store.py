"""Candles on disk: the SQL for the ``candles`` table, on the engine's store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hts_realtime.domain.candles import Candle
from hts_realtime.storage.store import Row, Store

_COLUMNS = "symbol, interval, start, open, high, low, close, volume"


def _candle(row: Row) -> Candle:
    return Candle(str(row[0]), str(row[1]), *(int(row[i]) for i in range(2, 8)))


class CandleStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def is_empty(self) -> bool:
        return await self.store.fetchrow("SELECT 1 FROM candles LIMIT 1") is None

    async def latest(self, symbols: Iterable[str], intervals: Iterable[str]) -> list[Candle]:
        """The newest candle of every (symbol, interval): one index lookup each, so
        start-up does not scan a table that grows every minute."""
        out = []
        intervals = list(intervals)
        for symbol in symbols:
            for interval in intervals:
                row = await self.store.fetchrow(
                    f"SELECT {_COLUMNS} FROM candles WHERE symbol = ? AND interval = ? "
                    "ORDER BY start DESC LIMIT 1",
                    (symbol, interval),
                )
                if row is not None:
                    out.append(_candle(row))
        return out

    async def read(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        rows = await self.store.fetch(
            f"SELECT {_COLUMNS} FROM candles WHERE symbol = ? AND interval = ? "
            "ORDER BY start DESC LIMIT ?",
            (symbol, interval, limit),
        )
        return [_candle(r) for r in reversed(rows)]

    async def last_days(self, n: int = 2) -> dict[str, list[Candle]]:
        """Each symbol's last ``n`` daily candles, oldest first."""
        rows = await self.store.fetch(
            f"SELECT {_COLUMNS} FROM candles c WHERE interval = '1d' AND start >= COALESCE(("
            "SELECT start FROM candles WHERE symbol = c.symbol AND interval = '1d' "
            "ORDER BY start DESC LIMIT 1 OFFSET ?), 0) ORDER BY symbol, start",
            (n - 1,),
        )
        out: dict[str, list[Candle]] = {}
        for r in rows:
            out.setdefault(str(r[0]), []).append(_candle(r))
        return out

    def writes(self, candles: Iterable[Candle]) -> list[tuple[str, Sequence[Any]]]:
        sql = (f"INSERT INTO candles ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
               "ON CONFLICT (symbol, interval, start) DO UPDATE SET high = excluded.high, "
               "low = excluded.low, close = excluded.close, volume = excluded.volume")
        return [(sql, (c.symbol, c.interval, c.start, c.open, c.high, c.low, c.close, c.volume))
                for c in candles]
