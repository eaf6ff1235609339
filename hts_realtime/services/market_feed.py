"""Drives a ``MarketSource`` on a clock and hands each step's trades to listeners
(the matching engine, the strategy runner). A listener that raises is logged
and does not stop the feed or the other listeners."""

from __future__ import annotations

import asyncio
import logging
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

    def step(self) -> list[Quote]:
        quotes = self.market.step(datetime.now(KST))
        self.steps += 1
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
