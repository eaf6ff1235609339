"""Candles on disk: the SQL for the ``candles`` table."""

from __future__ import annotations

from collections.abc import Iterable

from hts_realtime.domain.candles import Candle
from hts_realtime.storage.db import Database

_COLUMNS = "symbol, interval, start, open, high, low, close, volume"


class CandleStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def is_empty(self) -> bool:
        return self.db.conn.execute("SELECT 1 FROM candles LIMIT 1").fetchone() is None

    def latest(self, symbols: Iterable[str], intervals: Iterable[str]) -> list[Candle]:
        """The newest candle of every (symbol, interval): one index lookup each, so
        start-up does not scan a table that grows every minute."""
        out = []
        for symbol in symbols:
            for interval in intervals:
                row = self.db.conn.execute(
                    f"SELECT {_COLUMNS} FROM candles WHERE symbol = ? AND interval = ? "
                    "ORDER BY start DESC LIMIT 1",
                    (symbol, interval),
                ).fetchone()
                if row is not None:
                    out.append(Candle(*row))
        return out

    def read(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        rows = self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM candles WHERE symbol = ? AND interval = ? "
            "ORDER BY start DESC LIMIT ?",
            (symbol, interval, limit),
        ).fetchall()
        return [Candle(*r) for r in reversed(rows)]

    def last_days(self, n: int = 2) -> dict[str, list[Candle]]:
        """Each symbol's last ``n`` daily candles, oldest first."""
        rows = self.db.conn.execute(
            f"SELECT {_COLUMNS} FROM candles c WHERE interval = '1d' AND start >= COALESCE(("
            "SELECT start FROM candles WHERE symbol = c.symbol AND interval = '1d' "
            "ORDER BY start DESC LIMIT 1 OFFSET ?), 0) ORDER BY symbol, start",
            (n - 1,),
        ).fetchall()
        out: dict[str, list[Candle]] = {}
        for r in rows:
            out.setdefault(r[0], []).append(Candle(*r))
        return out

    def write(self, candles: Iterable[Candle]) -> None:
        with self.db.transaction() as conn:
            conn.executemany(
                f"INSERT INTO candles ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (symbol, interval, start) DO UPDATE SET high = excluded.high, "
                "low = excluded.low, close = excluded.close, volume = excluded.volume",
                [(c.symbol, c.interval, c.start, c.open, c.high, c.low, c.close, c.volume)
                 for c in candles],
            )
