"""The market as clients see it: the book with the paper orders resting in it.

``PaperShown`` wraps the engine's ``MarketSource`` for the streamers and the
replies (``orderbook_update``, ``get_orderbook``): a paper limit order that
rests shows as size at its level — added to the market's level at that
price, or a level of its own inside the spread or between shown levels.
Matching keeps reading the market itself (an order never takes from its own
or another paper order's displayed size). Reads only memory that follows the
commits (the broker's open orders).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hts_realtime.domain.market import Quote
from hts_realtime.domain.market_hours import MarketStatus
from hts_realtime.domain.orderbook import DEPTH, BookSnapshot, Level
from hts_realtime.domain.orders import Side
from hts_realtime.domain.symbol_state import SymbolState
from hts_realtime.ports import MarketSource

Resting = Callable[[str], list[tuple[Side, int, int]]]  # symbol -> (side, price, qty)
Changes = Callable[[str], int]  # symbol -> a counter that rises when its resting changes


class PaperShown:
    def __init__(self, market: MarketSource, resting: Resting, changes: Changes) -> None:
        self.market = market
        self.resting = resting
        self.changes = changes

    def book(self, symbol: str) -> BookSnapshot | None:
        book = self.market.book(symbol)
        rest = self.resting(symbol) if book is not None else []
        if book is None or not rest:
            return book
        asks = {lv.price: lv.quantity for lv in book.asks}
        bids = {lv.price: lv.quantity for lv in book.bids}
        far_ask = book.asks[-1].price if len(book.asks) >= DEPTH else None
        far_bid = book.bids[-1].price if len(book.bids) >= DEPTH else None
        best_ask, best_bid = book.best_ask, book.best_bid
        for side, price, qty in rest:
            if side is Side.SELL:
                if (best_bid is None or price > best_bid) and (far_ask is None or
                                                              price <= far_ask):
                    asks[price] = asks.get(price, 0) + qty
            elif (best_ask is None or price < best_ask) and (far_bid is None or
                                                             price >= far_bid):
                bids[price] = bids.get(price, 0) + qty
        return BookSnapshot(
            symbol,
            tuple(Level(p, q) for p, q in sorted(asks.items())[:DEPTH]),
            tuple(Level(p, q) for p, q in sorted(bids.items(), reverse=True)[:DEPTH]),
            book.last_price, book.timestamp)

    def book_version(self, symbol: str) -> int:
        # both counters only rise, so their sum does: a change of either is a change
        return self.market.book_version(symbol) + self.changes(symbol)

    # -- the rest is the market's -------------------------------------------------------
    def quote(self, symbol: str) -> Quote | None:
        return self.market.quote(symbol)

    def status(self, now: datetime) -> MarketStatus:
        return self.market.status(now)

    def step(self, now: datetime) -> list[Quote]:
        return self.market.step(now)

    def take_liquidity(self, symbol: str, side: Side, fills: list[tuple[int, int]]) -> None:
        self.market.take_liquidity(symbol, side, fills)

    def symbol_state(self, symbol: str) -> SymbolState | None:
        return self.market.symbol_state(symbol)

    def changed_states(self) -> list[SymbolState]:
        return self.market.changed_states()
