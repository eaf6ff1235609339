"""What a healthy simulated book looks like, as a checkable list of problems.

The simulator keeps these at every step; tests and the day run
(``domain.market_day``) check them. A book is healthy when:

* every level is on the KRX tick grid, inside the day's band, with a
  positive size; each side is sorted (asks up, bids down) without repeats;
* the best bid is below the best ask;
* adjacent levels of a side are at most ``PriceClass.max_gap`` ticks apart
  (a large cap quotes every tick; a small cap may skip two);
* a side holds ``DEPTH`` levels unless the band ends it: a shorter side
  reaches the band edge (within the class's gap), and an empty side means
  the other is at the limit (at 상한가 no asks, at 하한가 no bids);
* optionally, the spread is at most ``max_spread`` ticks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from hts_realtime.domain.krx import on_grid, tick_size
from hts_realtime.domain.orderbook import DEPTH, BookSnapshot, Level
from hts_realtime.domain.price_model import PriceClass


def ticks_between(low: int, high: int) -> int:
    """How many ticks from ``low`` up to ``high`` (both on the grid, ``low <= high``)."""
    tick = tick_size(low)
    if tick == tick_size(high):  # one tick band (nearly always): a division
        return (high - low) // tick
    n = 0
    while low < high:
        low += tick_size(low)
        n += 1
    return n


def book_problems(book: BookSnapshot, limits: tuple[int, int], cls: PriceClass,
                  max_spread: int | None = None) -> list[str]:
    lower, upper = limits
    out: list[str] = []
    asks, bids = book.asks, book.bids
    for name, levels in (("ask", asks), ("bid", bids)):
        for lv in levels:
            if not on_grid(lv.price) or not lower <= lv.price <= upper or lv.quantity <= 0:
                out.append(f"{name} {lv} off the grid, outside {limits} or empty")
    if [lv.price for lv in asks] != sorted({lv.price for lv in asks}):
        out.append("asks not strictly ascending")
    if [lv.price for lv in bids] != sorted({lv.price for lv in bids}, reverse=True):
        out.append("bids not strictly descending")
    if out:
        return out
    if not asks and not bids:
        return ["both sides empty"]
    if asks and bids and bids[0].price >= asks[0].price:
        out.append(f"crossed: bid {bids[0].price} >= ask {asks[0].price}")
    if not asks and bids[0].price != upper:
        out.append(f"no asks while the best bid {bids[0].price} is below the limit {upper}")
    if not bids and asks[0].price != lower:
        out.append(f"no bids while the best ask {asks[0].price} is above the limit {lower}")
    out += _side(asks, "ask", cls, lambda lv: ticks_between(lv.price, upper))
    out += _side(bids, "bid", cls, lambda lv: ticks_between(lower, lv.price))
    if max_spread is not None and asks and bids:
        spread = ticks_between(bids[0].price, asks[0].price)
        if spread > max_spread:
            out.append(f"spread {spread} ticks > {max_spread}")
    return out


def _side(levels: tuple[Level, ...], name: str, cls: PriceClass,
          to_edge: Callable[[Level], int]) -> list[str]:
    out = []
    for a, b in itertools.pairwise(levels):
        lo, hi = sorted((a.price, b.price))
        gap = ticks_between(lo, hi)
        if gap > cls.max_gap:
            out.append(f"{name} gap of {gap} ticks between {a.price} and {b.price}")
    if levels and len(levels) < DEPTH:
        edge = to_edge(levels[-1])
        if edge > cls.max_gap - 1 and edge > 0:
            out.append(f"{len(levels)} {name} levels, {edge} ticks short of the band edge")
    return out


def widest_gap(book: BookSnapshot) -> int:
    """The widest step between adjacent levels of either side, in ticks."""
    widest = 0
    for levels in (book.asks, book.bids):
        for a, b in itertools.pairwise(levels):
            lo, hi = sorted((a.price, b.price))
            widest = max(widest, ticks_between(lo, hi))
    return widest
