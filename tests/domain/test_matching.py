"""The matching engine, alone: fast and deterministic, no database, no server."""

from __future__ import annotations

from datetime import datetime

from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.matching import Fill, match
from hts_realtime.domain.orderbook import BookSnapshot, Level, Trade
from hts_realtime.domain.orders import Order, OrderStatus, OrderType, Side

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=KST)
BOOK = BookSnapshot(
    "005930",
    asks=(Level(75_100, 100), Level(75_200, 50), Level(75_300, 200)),
    bids=(Level(75_000, 80), Level(74_900, 120), Level(74_800, 300)),
    last_price=75_000,
    timestamp=NOW,
)
_n = 0


def order(side: Side, qty: int, price: int | None = None, filled: int = 0) -> Order:
    global _n
    _n += 1
    kind = OrderType.MARKET if price is None else OrderType.LIMIT
    return Order(f"O{_n}", "1", "005930", side, kind, qty, price, OrderStatus.ACCEPTED,
                 "t", "t", filled_quantity=filled)


def trade(price: int, qty: int, side: Side = Side.SELL) -> Trade:
    return Trade("005930", price, qty, side, 0, NOW)


def test_a_market_order_larger_than_the_best_level_walks_the_book() -> None:
    o = order(Side.BUY, 220)
    fills = match([o], BOOK, (), 0.5, continuous=True)
    assert fills == [Fill(o.order_id, 100, 75_100, True), Fill(o.order_id, 50, 75_200, True),
                     Fill(o.order_id, 70, 75_300, True)]
    s = order(Side.SELL, 100)
    assert match([s], BOOK, (), 0.5, True) == [Fill(s.order_id, 80, 75_000, True),
                                                Fill(s.order_id, 20, 74_900, True)]


def test_larger_than_the_whole_book_fills_what_is_shown_and_waits() -> None:
    o = order(Side.BUY, 1_000)
    fills = match([o], BOOK, (), 0.5, True)
    assert sum(f.quantity for f in fills) == 350 and [f.price for f in fills] == [
        75_100, 75_200, 75_300]


def test_two_orders_cannot_take_the_same_shares_time_priority_first() -> None:
    first, second = order(Side.BUY, 120), order(Side.BUY, 60)
    fills = match([first, second], BOOK, (), 0.5, True)
    assert fills == [Fill(first.order_id, 100, 75_100, True),
                     Fill(first.order_id, 20, 75_200, True),
                     Fill(second.order_id, 30, 75_200, True),
                     Fill(second.order_id, 30, 75_300, True)]


def test_a_marketable_limit_fills_up_to_its_limit_never_worse() -> None:
    o = order(Side.BUY, 500, price=75_200)
    fills = match([o], BOOK, (), 0.5, True)
    assert fills == [Fill(o.order_id, 100, 75_100, True), Fill(o.order_id, 50, 75_200, True)]
    s = order(Side.SELL, 500, price=74_900)
    fills = match([s], BOOK, (), 0.5, True)
    assert [(f.price, f.quantity) for f in fills] == [(75_000, 80), (74_900, 120)]
    assert all(f.price >= 74_900 for f in fills)


def test_a_resting_limit_fills_at_its_price_when_trades_reach_it_within_participation() -> None:
    bid = order(Side.BUY, 100, price=75_000)  # the best bid, below the best ask: resting
    assert match([bid], BOOK, (trade(75_100, 40, Side.BUY),), 0.5, True) == []
    fills = match([bid], BOOK, (trade(75_000, 40), trade(74_900, 30)), 0.5, True)
    assert fills == [Fill(bid.order_id, 20, 75_000, False), Fill(bid.order_id, 15, 75_000, False)]
    # shared in time priority: a later order gets what the first left of each trade's share
    a, b = order(Side.BUY, 15, price=75_000), order(Side.BUY, 100, price=75_000)
    fills = match([a, b], BOOK, (trade(75_000, 40),), 0.5, True)
    assert fills == [Fill(a.order_id, 15, 75_000, False), Fill(b.order_id, 5, 75_000, False)]
    # a tiny trade still lets one share through
    fills = match([order(Side.SELL, 10, price=75_100)], BOOK, (trade(75_100, 1, Side.BUY),),
                  0.5, True)
    assert [f.quantity for f in fills] == [1]


def test_partial_fills_continue_from_what_is_left() -> None:
    o = order(Side.BUY, 300, price=75_000, filled=290)
    fills = match([o], BOOK, (trade(75_000, 1_000),), 0.5, True)
    assert fills == [Fill(o.order_id, 10, 75_000, False)]


def test_outside_continuous_trading_nothing_takes_from_the_book() -> None:
    m = order(Side.BUY, 50)
    lim = order(Side.BUY, 50, price=76_000)
    assert match([m, lim], BOOK, (), 0.5, continuous=False) == []
    # the auction's single print fills market orders and the limits it reaches, at its price
    fills = match([m, lim], BOOK, (trade(75_500, 120),), 0.5, continuous=False)
    assert fills == [Fill(m.order_id, 50, 75_500, False), Fill(lim.order_id, 10, 75_500, False)]


def test_a_market_order_waits_when_its_side_is_empty() -> None:
    at_limit = BookSnapshot("005930", (), BOOK.bids, 97_500, NOW)
    assert match([order(Side.BUY, 10)], at_limit, (trade(97_500, 100, Side.BUY),), 0.5,
                 True) == []
