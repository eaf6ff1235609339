"""Streamers: background tasks that push market data to rooms.

The ``PriceStreamer`` starts when the first ``price:`` subscription
appears and stops by itself once the last one goes (lazy start,
auto-stop). Each tick it sends the latest quote of every subscribed
symbol to that symbol's room: updates are conflated to one per symbol
per interval, however fast the market moves.

Order and strategy events are not streamed by polling: they are pushed
the moment they are committed, through ``Fanout.publish``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

from hts_realtime.domain.market import MarketSource, Quote
from hts_realtime.metrics import Metrics
from hts_realtime.transport.fanout import Fanout
from hts_realtime.transport.payloads import price_update
from hts_realtime.transport.sessions import SessionRegistry

log = logging.getLogger("hts.streamer")


class PriceStreamer:
    def __init__(
        self,
        market: MarketSource,
        registry: SessionRegistry,
        fanout: Fanout,
        interval: float,
        metrics: Metrics,
    ) -> None:
        self.market = market
        self.metrics = metrics
        self._updates: Counter[str] = Counter()  # market updates per symbol since its last send
        self.registry = registry
        self.fanout = fanout
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._last_tick = -float("inf")
        self.ticks = 0

    def on_quotes(self, quotes: list[Quote]) -> None:
        """A market-feed listener: counts updates so the ones a tick folds into one
        send are reported as conflated."""
        if self.running:
            self._updates.update(q.symbol for q in quotes)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def ensure_running(self) -> None:
        """Start the loop if there is anyone to stream to and it is not running."""
        if not self.running and self.registry.has_price_subscribers():
            log.info("price streamer starting")
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            # a quick unsubscribe/subscribe must not make two ticks within one interval
            loop = asyncio.get_running_loop()
            next_at = max(loop.time(), self._last_tick + self.interval)
            while True:
                # a fixed cadence: the time spent sending is not added to the period
                await asyncio.sleep(max(0.0, next_at - loop.time()))
                self._last_tick = loop.time()
                next_at += self.interval
                if next_at <= self._last_tick:  # fell behind: skip ahead, never burst
                    next_at = self._last_tick + self.interval
                symbols = self.registry.subscribed_symbols()
                if not symbols:
                    log.info("price streamer stopping: no subscribers")
                    return
                updates = {}
                for symbol in symbols:
                    q = self.market.quote(symbol)
                    if q is None:
                        continue
                    self.metrics.conflated(self._updates.pop(symbol, 0) - 1)
                    updates[symbol] = price_update(q)
                try:
                    self.fanout.prices(updates)
                except Exception:  # one failed tick must not stop the stream
                    log.exception("price tick of %d symbols failed", len(updates))
                self._updates.clear()  # unsubscribed symbols' updates are not "conflated"
                self.ticks += 1
        finally:
            self._task = None if self._task is asyncio.current_task() else self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
