"""Drives a ``MarketSource`` on a clock and hands each step's trades to its stages
(the matching engine, the strategy runner, the candles, the streamers: an order
``engine.build`` declares once), and each change of the market's session to its
status listeners.

A stage that raises is logged and does not stop the feed or the other
listeners. Listeners keep their own state consistent with the database on
a failure (the broker and the strategy runner apply memory only after their
commit), so the next step simply finds the same work again.

``QuoteFeed`` is the port the rest of the app sees: something that runs for
the app's lifetime, hands each batch of trades to its stages and answers
the latest quote of a symbol. ``MarketFeed`` drives a pull ``MarketSource``
(the simulator, a replay) on a clock; a push feed (a broker's websocket)
implements ``QuoteFeed`` by handing each batch it receives to its stages."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from hts_realtime.domain.market import Quote
from hts_realtime.domain.market_hours import KST
from hts_realtime.ports import MarketSource, QuoteListener, StatusListener, SymbolStateListener

log = logging.getLogger("hts.market")


class MarketFeed:
    def __init__(self, market: MarketSource, interval: float,
                 stages: Sequence[QuoteListener] = (),
                 on_status: Sequence[StatusListener] = (),
                 on_symbol: Sequence[SymbolStateListener] = ()) -> None:
        """``stages`` get each step's quotes, in this order (the engine declares it once:
        resting orders match a trade before strategies react to it); ``on_status``
        get each change of the market's session, ``on_symbol`` each change of one
        symbol's own state (a VI, a limit; ``symbol_status``)."""
        self.market = market
        self.interval = interval
        self.stages = tuple(stages)
        self.on_status = tuple(on_status)
        self.on_symbol = tuple(on_symbol)
        self.steps = 0
        self.last_step_at: float | None = None  # time.monotonic() of the latest step
        self.failures = 0
        self.status = market.status(datetime.now(KST))
        # a cluster's engine steps only while it leads: one woken from a pause past its
        # lease must not move the market before it has noticed (engine.standby)
        self.active: Callable[[], bool] = lambda: True

    def stalled_reason(self) -> str | None:
        """Why the feed is not ready (readiness), or None: it must have stepped
        within the last three intervals (at least a second)."""
        if self.last_step_at is None:
            return "the market feed has not stepped yet"
        age = time.monotonic() - self.last_step_at
        if age > max(3 * self.interval, 1.0):
            return f"the market feed last stepped {age:.1f}s ago"
        return None

    def quote(self, symbol: str) -> Quote | None:
        return self.market.quote(symbol)

    def step(self, now: datetime | None = None) -> list[Quote]:
        now = now or datetime.now(KST)
        quotes = self.market.step(now)
        self.steps += 1
        self.last_step_at = time.monotonic()
        status = self.market.status(now)
        if status is not self.status:
            self.status = status
            log.info("market status %s", status.value)
            for on_status in self.on_status:
                try:
                    on_status(status, now)
                except Exception:
                    log.exception("market status listener %r failed", on_status)
        for state in self.market.changed_states():
            for on_symbol in self.on_symbol:
                try:
                    on_symbol(state, now)
                except Exception:
                    log.exception("symbol state listener %r failed", on_symbol)
        for listener in self.stages:
            try:
                listener(quotes)
            except Exception:
                self.failures += 1
                log.exception("market listener %r failed", listener)
        return quotes

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            if self.active():
                self.step()
            next_at += self.interval
            delay = next_at - loop.time()
            if delay < 0:  # fell behind (a stall): skip ahead instead of bursting
                next_at = loop.time()
                delay = 0
            await asyncio.sleep(delay)
