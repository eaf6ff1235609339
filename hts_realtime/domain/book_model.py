"""The simulator's book mechanics: one symbol's two sides as mutable ``[price, qty]``
lists, and the moves that keep them a healthy book (``domain.book_shape``).

Every change to a side happens at its touch (an aggressor takes the best
levels, a quote arrives inside the spread, the best quote is cancelled),
and ``settle`` then re-establishes the shape from the touch outward: holes
wider than the class allows are quoted into, the far end is extended to
``DEPTH`` levels (or to the band edge) and cut there. Because nothing ever
leaves a hole in the middle of a side, a book stays contiguous (a large
cap) or nearly so (a small cap's occasional 2-3 tick step) all day.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from hts_realtime.domain.krx import tick_down, tick_up
from hts_realtime.domain.orderbook import DEPTH
from hts_realtime.domain.price_model import PriceClass

Levels = list[list[int]]  # [price, qty], best first
Sizer = Callable[[int], int]  # a fresh resting size at a price


class Book:
    """One symbol's simulated book: ``asks`` ascending, ``bids`` descending."""

    __slots__ = ("asks", "bids", "cls", "lower", "rng", "size", "upper")

    def __init__(self, cls: PriceClass, limits: tuple[int, int], rng: random.Random,
                 size: Sizer) -> None:
        self.cls = cls
        self.lower, self.upper = limits
        self.rng = rng
        self.size = size
        self.asks: Levels = []
        self.bids: Levels = []

    # -- building --------------------------------------------------------------------------
    def around(self, price: int, lock: int = 0) -> None:
        """A fresh book at ``price``: best bid at it and best ask a tick above, or at a
        limit (``lock`` +1 upper, -1 lower) only the side that can still trade."""
        size = self.size
        if lock > 0 or price >= self.upper:
            self.asks = []
            self.bids = [[self.upper, 20 * size(self.upper)]]
        elif lock < 0 or price <= self.lower:
            self.bids = []
            self.asks = [[self.lower, 20 * size(self.lower)]]
        else:
            self.bids = [[price, size(price)]]
            self.asks = [[tick_up(price), size(price)]]
        self.settle()

    def _step_out(self) -> int:
        """Ticks from one level to the next when quoting a new one."""
        two, three = self.cls.gap_odds
        if not two:
            return 1
        r = self.rng.random()
        return 3 if r < three else 2 if r < three + two else 1

    def settle(self) -> None:
        """Extend each side to ``DEPTH`` levels or the band edge, cut at ``DEPTH``.

        No hole can open inside a side: levels leave only at the touch (taken or
        cancelled) and arrive at the touch (one tick inside the spread) or at the far
        end (here, one to ``max_gap`` ticks out), so the shape holds by construction."""
        size = self.size
        asks, bids = self.asks, self.bids
        if not asks and bids and bids[0][0] < self.upper:
            p = tick_up(bids[0][0])
            asks.append([p, size(p)])
        if not bids and asks and asks[0][0] > self.lower:
            p = tick_down(asks[0][0])
            bids.append([p, size(p)])
        while asks and len(asks) < DEPTH and asks[-1][0] < self.upper:
            p = min(tick_up(asks[-1][0], self._step_out()), self.upper)
            asks.append([p, size(p)])
        while bids and len(bids) < DEPTH and bids[-1][0] > self.lower:
            p = max(tick_down(bids[-1][0], self._step_out()), self.lower)
            bids.append([p, size(p)])
        del asks[DEPTH:]
        del bids[DEPTH:]

    # -- the touch -------------------------------------------------------------------------
    def spread_ticks(self) -> int:
        if not self.asks or not self.bids:
            return 0
        bid, ask, n = self.bids[0][0], self.asks[0][0], 0
        while bid < ask:
            bid = tick_up(bid)
            n += 1
        return n

    def close_spread(self, target: int, buyers_first: bool) -> None:
        """Quote inside a spread wider than ``target`` ticks, one tick at a time, usually
        on the side that just traded (``buyers_first``: bids step up)."""
        size, rng = self.size, self.rng
        spread = self.spread_ticks()
        while spread > target:
            if buyers_first == (rng.random() < 0.7):
                p = tick_up(self.bids[0][0])
                self.bids.insert(0, [p, size(p)])
            else:
                p = tick_down(self.asks[0][0])
                self.asks.insert(0, [p, size(p)])
            spread -= 1

    def cancel_best(self, asks: bool) -> None:
        """The best quote of one side leaves (the spread widens by a tick)."""
        side = self.asks if asks else self.bids
        if len(side) > 1:
            del side[0]

    def churn(self) -> None:
        """A few orders arrive at or leave resting levels; a thin touch refills."""
        rng = self.rng
        for side in (self.asks, self.bids):
            if side:
                lv = side[int(rng.random() * len(side))]
                lv[1] = max(1, lv[1] + int((2 * rng.random() - 1) * lv[1] / 3))
                best = side[0]
                fresh = self.size(best[0])
                if best[1] < fresh // 4:
                    best[1] += fresh // 2


def take(levels: Levels, qty: int) -> list[tuple[int, int]]:
    """Take ``qty`` from the best of ``levels`` outward; the fills, best first."""
    fills = []
    while qty > 0 and levels:
        level = levels[0]
        got = min(qty, level[1])
        qty -= got
        level[1] -= got
        fills.append((level[0], got))
        if level[1] == 0:
            del levels[0]
    return fills
