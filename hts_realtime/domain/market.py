"""Quotes, the market-source interface, and a simulated KRX market.

The simulator is a pure, synchronous state machine: ``step(now)`` trades a
random subset of symbols one move each and returns the new quotes. Driving
it on a clock is the job of ``services.market_feed``; a replay file or a
broker feed would implement the same ``MarketSource`` protocol.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, timezone
from typing import Protocol

from hts_realtime.domain.krx import price_limits, tick_down, tick_up
from hts_realtime.domain.symbols import SymbolMaster

KST = timezone(timedelta(hours=9), "KST")


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    price: int
    open: int
    high: int
    low: int
    prev_close: int
    volume: int  # cumulative shares traded today
    last_volume: int  # shares traded in the latest trade
    timestamp: datetime

    @property
    def change(self) -> int:
        return self.price - self.prev_close

    @property
    def change_percent(self) -> float:
        return round(self.change * 100 / self.prev_close, 2)

    @property
    def limits(self) -> tuple[int, int]:
        return price_limits(self.prev_close)


class MarketSource(Protocol):
    """Anything that produces quotes: the simulator, a replay, a broker feed."""

    def quote(self, symbol: str) -> Quote | None: ...

    def step(self, now: datetime) -> list[Quote]: ...


class MarketHours:
    """``always`` or ``HH:MM-HH:MM`` in Korea time (e.g. ``09:00-15:30``)."""

    _RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self._window: tuple[time, time] | None = None
        if spec != "always":
            m = self._RE.match(spec)
            if not m:
                raise ValueError(f"market hours must be 'always' or 'HH:MM-HH:MM', not {spec!r}")
            h1, m1, h2, m2 = (int(g) for g in m.groups())
            self._window = (time(h1, m1), time(h2, m2))

    def is_open(self, now: datetime) -> bool:
        if self._window is None:
            return True
        local = now.astimezone(KST)
        if local.weekday() >= 5:
            return False
        start, end = self._window
        return start <= local.time() < end


class MarketSimulator:
    """A random walk on the KRX tick grid, inside each symbol's daily band.

    Each step a symbol trades with probability ``activity``; a trade moves
    the price by a few ticks, drawn with a mild pull back toward the
    previous close so a long run stays inside the band without sticking to
    its edges. Seeded: the same seed gives the same market.
    """

    def __init__(
        self,
        master: SymbolMaster,
        *,
        seed: int | None = None,
        activity: float = 0.7,
        hours: MarketHours | None = None,
        now: datetime | None = None,
    ) -> None:
        self.master = master
        self.hours = hours or MarketHours("always")
        self._rng = random.Random(seed)
        self._activity = activity
        start = now or datetime.now(KST)
        self._quotes: dict[str, Quote] = {}
        for s in master:
            self._quotes[s.symbol] = Quote(
                symbol=s.symbol,
                price=s.prev_close,
                open=s.prev_close,
                high=s.prev_close,
                low=s.prev_close,
                prev_close=s.prev_close,
                volume=0,
                last_volume=0,
                timestamp=start,
            )

    def quote(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    def step(self, now: datetime) -> list[Quote]:
        if not self.hours.is_open(now):
            return []
        traded: list[Quote] = []
        for symbol, q in self._quotes.items():
            if self._rng.random() >= self._activity:
                continue
            new = self._trade(q, now)
            self._quotes[symbol] = new
            traded.append(new)
        return traded

    def _trade(self, q: Quote, now: datetime) -> Quote:
        lower, upper = q.limits
        rng = self._rng
        # displacement from the previous close, in [-1, 1] of the band
        drift = (q.price - q.prev_close) / max(upper - q.prev_close, 1)
        up_prob = 0.5 - 0.35 * drift
        ticks = 1 + int(rng.expovariate(1.2))
        price = tick_up(q.price, ticks) if rng.random() < up_prob else tick_down(q.price, ticks)
        price = min(max(price, lower), upper)
        # smaller lots for dearer stocks; roughly ₩5-50M a trade
        lot = max(1, int(rng.lognormvariate(3.0, 1.0) * 1_000_000 / price))
        return replace(
            q,
            price=price,
            high=max(q.high, price),
            low=min(q.low, price),
            volume=q.volume + lot,
            last_volume=lot,
            timestamp=now,
        )
