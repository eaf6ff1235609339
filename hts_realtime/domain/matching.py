"""Matching: which open paper orders fill, how much and at what price, in one market step.

Pure and deterministic: it reads the orders, the book and the step's
trades, and returns fills; it changes nothing. The broker commits the
fills and only then applies them (``engine.broker``).

The model, per symbol and step, orders in time priority:

* **Takers** — a market order, or a limit order that crosses the book (a
  buy at or above the best ask, a sell at or below the best bid) — walk
  the opposite side of the book level by level while the market is in
  continuous trading: they fill at each level's price, never past their
  limit, and take the level's size, so two orders cannot take the same
  shares and a large order fills at several prices. What the book cannot
  fill stays open for the next step.
* **Resting** limit orders fill when the step's trades reach their price
  (a trade at or below a buy's limit, at or above a sell's), at the
  limit price, taking at most ``participation`` of each such trade's
  size (at least one share), shared in time priority.
* Outside continuous trading (the KRX auctions, closed) nothing takes from
  the book; an auction's single print fills the limits it reaches and
  market orders, all at the auction price, with the same bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from hts_realtime.domain.orderbook import BookSnapshot, Level, Trade, walk
from hts_realtime.domain.orders import Order, OrderType, Side


@dataclass(frozen=True, slots=True)
class Fill:
    order_id: str
    quantity: int
    price: int
    taker: bool  # took displayed liquidity from the book


def crosses(order: Order, book: BookSnapshot) -> bool:
    """Whether the order can take from the book right now."""
    if order.order_type is OrderType.MARKET:
        return True
    assert order.price is not None
    if order.side is Side.BUY:
        return book.best_ask is not None and order.price >= book.best_ask
    return book.best_bid is not None and order.price <= book.best_bid


def reaches(order: Order, price: int) -> bool:
    if order.order_type is OrderType.MARKET or order.price is None:
        return True
    return price <= order.price if order.side is Side.BUY else price >= order.price


def match(orders: list[Order], book: BookSnapshot | None, trades: tuple[Trade, ...],
          participation: float, continuous: bool) -> list[Fill]:
    fills: list[Fill] = []
    asks = [[lv.price, lv.quantity] for lv in book.asks] if book else []
    bids = [[lv.price, lv.quantity] for lv in book.bids] if book else []
    budget = [max(1, int(t.quantity * participation)) for t in trades]
    for order in orders:
        left = order.remaining_quantity
        if left <= 0:
            continue
        if continuous and book is not None and crosses(order, book):
            levels = asks if order.side is Side.BUY else bids
            got = walk([Level(p, q) for p, q in levels], order.side, left, order.price)
            for price, qty in got:
                for lv in levels:
                    if lv[0] == price:
                        lv[1] -= qty
                levels[:] = [lv for lv in levels if lv[1] > 0]
                fills.append(Fill(order.order_id, qty, price, True))
            continue
        if continuous and order.order_type is OrderType.MARKET:
            continue  # an empty side (a band edge): wait for the book to come back
        for i, t in enumerate(trades):
            if left <= 0:
                break
            if budget[i] <= 0 or not reaches(order, t.price):
                continue
            qty = min(left, budget[i])
            budget[i] -= qty
            left -= qty
            # resting in continuous trading: at its own price; an auction: at the auction's
            price = order.price if continuous and order.price is not None else t.price
            fills.append(Fill(order.order_id, qty, price, False))
    return fills
