"""The external market (a feed's or a recording's prints, books and session), alone."""

from __future__ import annotations

from datetime import datetime, timedelta

from hts_realtime.domain.external_market import ExternalMarket
from hts_realtime.domain.market_hours import KST, MarketHours, MarketStatus
from hts_realtime.domain.orderbook import Level, Trade
from hts_realtime.domain.orders import Side

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=KST)


def market() -> ExternalMarket:
    return ExternalMarket(["005930", "000660"], MarketHours("krx"), max_pending=3)


def trade(symbol: str, price: int, qty: int, volume: int, side: Side = Side.BUY) -> Trade:
    return Trade(symbol, price, qty, side, volume, NOW)


def test_a_step_hands_over_the_prints_since_the_last_one_oldest_first() -> None:
    m = market()
    assert m.quote("005930") is None and m.book("005930") is None and m.step(NOW) == []
    m.print_trade("000660", trade("000660", 180_000, 2, 2), open=179_000, high=181_000,
                  low=179_000, prev_close=178_000)
    m.print_trade("005930", trade("005930", 75_100, 5, 5), open=75_000, high=75_100,
                  low=75_000, prev_close=75_000)
    m.print_trade("005930", trade("005930", 75_000, 1, 6, Side.SELL), open=75_000,
                  high=75_100, low=75_000, prev_close=75_000)
    quotes = m.step(NOW)
    assert [q.symbol for q in quotes] == ["000660", "005930"]  # as their first print arrived
    q = quotes[1]
    assert [(t.price, t.quantity) for t in q.trades] == [(75_100, 5), (75_000, 1)]
    assert (q.price, q.volume, q.last_volume, q.change) == (75_000, 6, 6, 0)
    assert m.step(NOW) == [] and m.quote("005930").trades == ()  # type: ignore[union-attr]


def test_prints_beyond_the_bound_between_two_steps_are_dropped_and_counted() -> None:
    m = market()
    for i in range(5):
        m.print_trade("005930", trade("005930", 75_000 + 100 * i, 1, i + 1), open=75_000,
                      high=75_400, low=75_000, prev_close=75_000)
    (q,) = m.step(NOW)
    assert [t.price for t in q.trades] == [75_200, 75_300, 75_400] and m.dropped == 2


def test_a_paper_take_is_hidden_until_the_exchanges_next_book() -> None:
    m = market()
    m.set_quote("005930", 75_000, open=75_000, high=75_000, low=75_000, prev_close=75_000,
                volume=0, at=NOW)
    m.set_book("005930", [(75_200, 10), (75_100, 5), (0, 3)], [(75_000, 7), (74_900, 0)], NOW)
    book = m.book("005930")
    assert book is not None
    assert book.asks == (Level(75_100, 5), Level(75_200, 10)) and book.bids == (Level(75_000, 7),)
    v = m.book_version("005930")
    m.take_liquidity("005930", Side.BUY, [(75_100, 5), (75_200, 3)])
    assert m.book_version("005930") > v
    assert m.book("005930").asks == (Level(75_200, 7),)  # type: ignore[union-attr]
    m.set_book("005930", [(75_100, 4)], [(75_000, 7)], NOW + timedelta(seconds=1))
    assert m.book("005930").asks == (Level(75_100, 4),)  # type: ignore[union-attr]


def test_the_session_is_the_sources_word_else_the_clock() -> None:
    m = market()
    night = datetime(2026, 1, 5, 22, 0, tzinfo=KST)
    assert m.status(night) is MarketStatus.CLOSED
    m.set_status(MarketStatus.OPEN)
    assert m.status(night) is MarketStatus.OPEN
    m.set_status(None)
    assert m.status(NOW) is MarketStatus.OPEN and m.status(night) is MarketStatus.CLOSED
