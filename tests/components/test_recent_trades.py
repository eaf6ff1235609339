"""RecentTrades: every symbol's last trades, oldest first, bounded per symbol."""

from __future__ import annotations

from datetime import datetime

from hts_realtime.domain.market import Quote
from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.orderbook import Trade
from hts_realtime.domain.orders import Side
from hts_realtime.engine.recent_trades import RecentTrades

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=KST)


def step(symbol: str, first_volume: int, n: int) -> Quote:
    trades = tuple(Trade(symbol, 75_000 + i * 100, 1, Side.BUY, first_volume + i, T0)
                   for i in range(n))
    return Quote(symbol, 75_000, 75_000, 75_000, 75_000, 75_000, first_volume + n, n, T0,
                 trades)


def test_keeps_the_last_trades_of_each_symbol_oldest_first() -> None:
    recent = RecentTrades(keep=5)
    recent.on_quotes([step("005930", 1, 3), step("000660", 1, 1)])
    recent.on_quotes([step("005930", 4, 4)])
    assert [t.volume for t in recent.last("005930", 100)] == [3, 4, 5, 6, 7]  # the bound
    assert [t.volume for t in recent.last("005930", 2)] == [6, 7]
    assert [t.volume for t in recent.last("000660", 10)] == [1]
    assert recent.last("035720", 10) == [] and recent.last("005930", 0) == []
