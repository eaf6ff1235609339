"""Drives a ``MarketSource`` on a clock and hands each step's trades to listeners
(the matching engine, the strategy runner). A listener that raises is logged
and does not stop the feed or the other listeners."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime

from hts_realtime.domain.market import KST, MarketSource, Quote

log = logging.getLogger("hts.market")

QuoteListener = Callable[[list[Quote]], None]


class MarketFeed:
    def __init__(self, market: MarketSource, interval: float) -> None:
        self.market = market
        self.interval = interval
        self.listeners: list[QuoteListener] = []
        self.steps = 0
        self.last_step_at: float | None = None  # time.monotonic() of the latest step

    def stalled_reason(self) -> str | None:
        """Why the feed is not ready (readiness), or None: it must have stepped
        within the last three intervals (at least a second)."""
        if self.last_step_at is None:
            return "the market feed has not stepped yet"
        age = time.monotonic() - self.last_step_at
        if age > max(3 * self.interval, 1.0):
            return f"the market feed last stepped {age:.1f}s ago"
        return None

    def step(self) -> list[Quote]:
        quotes = self.market.step(datetime.now(KST))
        self.steps += 1
        self.last_step_at = time.monotonic()
        for listener in self.listeners:
            try:
                listener(quotes)
            except Exception:
                log.exception("market listener %r failed", listener)
        return quotes

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            self.step()
            next_at += self.interval
            delay = next_at - loop.time()
            if delay < 0:  # fell behind (a stall): skip ahead instead of bursting
                next_at = loop.time()
                delay = 0
            await asyncio.sleep(delay)
