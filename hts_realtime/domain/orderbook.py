"""A 10-level limit order book (호가) on the KRX tick grid, and the trades it prints.

Plain data and pure mechanics, shared by the market simulator (which keeps
one book per symbol) and the paper broker's matching (which walks a
snapshot of it). Prices are integer KRW on the grid; quantities are shares.

Shape: ``asks`` ascending (best = lowest first), ``bids`` descending (best =
highest first), each at most ``DEPTH`` levels, every quantity > 0, and the
best bid below the best ask. Near a band edge a side may hold fewer levels
(nothing can rest above the upper limit or below the lower one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hts_realtime.domain.orders import Side

DEPTH = 10


@dataclass(frozen=True, slots=True)
class Level:
    price: int
    quantity: int


@dataclass(frozen=True, slots=True)
class Trade:
    """One print on the tape (체결): ``side`` is the aggressor's side."""

    symbol: str
    price: int
    quantity: int
    side: Side
    volume: int  # cumulative day volume after this trade
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    symbol: str
    asks: tuple[Level, ...]
    bids: tuple[Level, ...]
    last_price: int
    timestamp: datetime

    @property
    def best_ask(self) -> int | None:
        return self.asks[0].price if self.asks else None

    @property
    def best_bid(self) -> int | None:
        return self.bids[0].price if self.bids else None

    @property
    def total_ask_quantity(self) -> int:
        return sum(lv.quantity for lv in self.asks)

    @property
    def total_bid_quantity(self) -> int:
        return sum(lv.quantity for lv in self.bids)

    def opposite(self, side: Side) -> tuple[Level, ...]:
        """The levels an order of ``side`` takes from (a buy takes asks)."""
        return self.asks if side is Side.BUY else self.bids


def walk(levels: tuple[Level, ...] | list[Level], side: Side, quantity: int,
         limit: int | None = None) -> list[tuple[int, int]]:
    """Take up to ``quantity`` from ``levels`` (best first), never past ``limit``.

    Returns ``[(price, qty), ...]`` best first. A buy stops at the first
    level above its limit, a sell at the first below it.
    """
    fills: list[tuple[int, int]] = []
    left = quantity
    for lv in levels:
        if left <= 0:
            break
        if limit is not None and (lv.price > limit if side is Side.BUY else lv.price < limit):
            break
        qty = min(left, lv.quantity)
        if qty > 0:
            fills.append((lv.price, qty))
            left -= qty
    return fills


def take(levels: list[list[int]], fills: list[tuple[int, int]]) -> None:
    """Remove ``fills`` (as returned by ``walk``) from mutable ``[price, qty]`` levels."""
    for price, qty in fills:
        for lv in levels:
            if lv[0] == price:
                lv[1] -= qty
                break
    levels[:] = [lv for lv in levels if lv[1] > 0]
