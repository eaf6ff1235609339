"""The last trades of each symbol, so a 체결 list is full the moment a symbol is opened.

``GET /api/trades`` answers from here; the live tape (``trade_update`` on
``trade:{symbol}``) continues from there. Fed by every market step for every
symbol that trades (not only the ones someone listens to: a symbol opened
later has its history too), and bounded: ``keep`` trades per symbol, for the
symbols of the master (or those a real feed streams).
"""

from __future__ import annotations

from collections import deque

from hts_realtime.domain.market import Quote
from hts_realtime.domain.orderbook import Trade

KEEP = 100  # trades per symbol: a 체결 list's screenful and more


class RecentTrades:
    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._trades: dict[str, deque[Trade]] = {}

    def on_quotes(self, quotes: list[Quote]) -> None:
        """The market-feed listener: keep each step's trades."""
        for q in quotes:
            if q.trades:
                kept = self._trades.get(q.symbol)
                if kept is None:
                    kept = self._trades[q.symbol] = deque(maxlen=self.keep)
                kept.extend(q.trades)

    def last(self, symbol: str, limit: int) -> list[Trade]:
        """The symbol's last ``limit`` trades, oldest first (as the tape sends them)."""
        kept = self._trades.get(symbol)
        if not kept or limit <= 0:
            return []
        return list(kept)[-limit:]
