"""A simulated KRX trading day in fast-forward: the simulator's long-run check.

``run_days`` drives a ``MarketSimulator`` in ``krx`` hours through whole
days — the opening auction at 09:00, continuous trading to 15:20, the
closing auction at 15:30 — on a coarse clock (``step`` seconds of market
time per step, 5 s by default: the price path is in market time, so a
coarse clock moves prices as far as the real-time feed does). After every
step it checks every symbol's book against ``domain.book_shape`` (when
``check``), and it gathers each class's day statistics: daily returns,
spreads, the widest gap, and volume and volatility by half hour (the U).

Pure: no clock, no I/O. Used by the tests (invariants at every step,
statistics inside documented bounds) and by ``bench/market_sim.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from hts_realtime.domain.book_shape import book_problems, ticks_between, widest_gap
from hts_realtime.domain.krx_calendar import is_trading_day
from hts_realtime.domain.market import MarketSimulator
from hts_realtime.domain.market_hours import KST, MarketHours
from hts_realtime.domain.price_model import PriceClass, price_class
from hts_realtime.domain.symbols import SymbolMaster

HALF_HOURS = 13  # 09:00-15:30
MAX_SPREAD = 6  # ticks, after any step (a paper sweep may open more until the next one)


@dataclass
class ClassDay:
    """One class's statistics over the days run."""

    returns: list[float] = field(default_factory=list)  # close / prev close - 1
    spreads: list[int] = field(default_factory=list)  # ticks, every step of continuous trading
    widest_gap: int = 0  # ticks between adjacent levels of a side
    volume: list[int] = field(default_factory=lambda: [0] * HALF_HOURS)
    variance: list[float] = field(default_factory=lambda: [0.0] * HALF_HOURS)  # sum of r^2
    limit_closes: int = 0  # days that closed at 상한가 or 하한가

    def median_abs_return(self) -> float:
        return quantile([abs(r) for r in self.returns], 0.5)

    def p99_abs_return(self) -> float:
        return quantile([abs(r) for r in self.returns], 0.99)

    def spread_share(self, ticks: int) -> float:
        """The share of steps whose spread was at most ``ticks``."""
        return sum(s <= ticks for s in self.spreads) / max(len(self.spreads), 1)

    def u_ratio(self, series: list[float] | list[int]) -> float:
        """First and last half hours against the midday ones (11:00-14:00): > 1 is a U."""
        edges = (series[0] + series[-1]) / 2
        midday = sum(series[4:10]) / 6
        return edges / midday if midday else math.inf


@dataclass
class DayRun:
    classes: dict[str, ClassDay]
    steps: int = 0
    problems: list[str] = field(default_factory=list)  # the first few, if any


def quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def trading_days(start: date, n: int) -> Iterator[date]:
    day = start
    while n:
        if is_trading_day(day):
            yield day
            n -= 1
        day += timedelta(days=1)


def run_days(master: SymbolMaster, seed: int, days: int = 1, start: date = date(2026, 1, 5),
             step: float = 5.0, check: bool = True, max_problems: int = 5) -> DayRun:
    first = next(trading_days(start, 1))
    sim = MarketSimulator(master, seed=seed, hours=MarketHours("krx"),
                          now=datetime.combine(first, time(8, 0), KST))
    classes: dict[str, PriceClass] = {s.symbol: price_class(s) for s in master}
    out = DayRun({c.name: ClassDay() for c in classes.values()})
    for day in trading_days(start, days):
        prev = {s.symbol: None for s in master}
        sim.step(datetime.combine(day, time(8, 59, 59), KST))  # pre-open: the day rolls
        for s in master:
            q = sim.quote(s.symbol)
            assert q is not None
            prev[s.symbol] = q.price  # type: ignore[assignment]
        t = datetime.combine(day, time(9, 0), KST)
        close = datetime.combine(day, time(15, 20), KST)
        last = {s.symbol: float(prev[s.symbol] or 1) for s in master}
        while t <= close:
            quotes = sim.step(t)
            out.steps += 1
            bucket = min(HALF_HOURS - 1, (t.hour * 60 + t.minute - 540) // 30)
            for q in quotes:
                stats = out.classes[classes[q.symbol].name]
                stats.volume[bucket] += q.last_volume * q.price
                r = math.log(q.price / last[q.symbol])
                stats.variance[bucket] += r * r
                last[q.symbol] = q.price
            for s in master:
                cls = classes[s.symbol]
                book, q = sim.book(s.symbol), sim.quote(s.symbol)
                assert book is not None and q is not None
                stats = out.classes[cls.name]
                if book.asks and book.bids:
                    stats.spreads.append(ticks_between(book.bids[0].price, book.asks[0].price))
                if check:
                    for p in book_problems(book, q.limits, cls, MAX_SPREAD):
                        if len(out.problems) < max_problems:
                            out.problems.append(f"{s.symbol} {t:%Y-%m-%d %H:%M:%S}: {p}")
                    stats.widest_gap = max(stats.widest_gap, widest_gap(book))
            t += timedelta(seconds=step)
        sim.step(datetime.combine(day, time(15, 20, 30), KST))  # the closing auction's orders
        for q in sim.step(datetime.combine(day, time(15, 30), KST)):  # ... and its print
            stats = out.classes[classes[q.symbol].name]
            stats.returns.append(q.price / q.prev_close - 1)
            stats.limit_closes += q.price in q.limits
    return out
