"""Streamers: the engine's background tasks that publish market data.

One ``MarketStreamer`` per market-data topic kind (``price:``,
``orderbook:``, ``trade:``). Each is lazy and auto-stopping: it starts when
the first subscription of its kind appears and stops by itself once the
last one goes. Each round it builds one payload per watched symbol and
hands the round to the bus (``MarketPublisher``: one message per topic,
encoded once, whatever the number of subscribers).

* ``price_update`` and ``orderbook_update`` run on a fixed cadence and are
  conflated: at most one per symbol per interval, the latest state (an
  unchanged book is not sent again);
* ``trade_update`` runs on the market's clock: the feed calls
  ``MarketStreams.on_quotes`` after each step, and every trade of the step
  goes out in one event per symbol, oldest first (``notify``).

Rounds go on the bus (``md:{kind}:{symbol}``), from which each process's
``edge.market_relay.MarketRelay`` hands them to its own fan-out. What is
watched is the role's choice (``watched``): in one process the bus is in memory
and the streamers watch what this process's clients watch; a cluster's engine
streams every symbol (it cannot see the gateways' clients, and a publish nobody
subscribes to costs Redis next to nothing), and each gateway subscribes only to
what its clients watch.

Order and strategy events are not streamed by polling: they are pushed
the moment they are committed (``engine.journal.EventBus``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from hts_realtime.domain.market import Quote
from hts_realtime.domain.orderbook import Trade
from hts_realtime.engine.payloads import orderbook_update, price_update, trade_update
from hts_realtime.engine.recent_trades import RecentTrades
from hts_realtime.ops.metrics import Metrics
from hts_realtime.ports import MarketSource
from hts_realtime.protocol.topics import TopicKind

log = logging.getLogger("hts.streamer")

Build = Callable[[str], "dict[str, Any] | None"]
Send = Callable[[dict[str, dict[str, Any]]], None]
Publish = Callable[[TopicKind, str], Send]  # (kind, event) -> where that kind's rounds go
Watched = Callable[[TopicKind], list[str]]  # the symbols to stream, by kind
MAX_BUFFERED_TRADES = 1000  # per symbol between two sends; older ones are dropped


class MarketStreamer:
    def __init__(self, kind: TopicKind, event: str, build: Build, interval: float | None,
                 metrics: Metrics, send: Send, watched: Watched) -> None:
        """``interval`` None: event-driven, one round per ``notify()``. ``send`` takes
        one round's payloads by symbol; ``watched`` names the symbols to stream."""
        self.kind = kind
        self.watched = watched
        self.event = event
        self.send = send
        self.metrics = metrics
        self._updates: Counter[str] = Counter()  # market updates per symbol since its last send
        self.build = build
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._last_tick = -float("inf")
        self.ticks = 0

    def on_quotes(self, quotes: list[Quote]) -> None:
        """A market-feed listener: counts updates so the ones a round folds into one
        send are reported as conflated."""
        if self.running:
            self._updates.update(q.symbol for q in quotes)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def ensure_running(self) -> None:
        """Start the loop if there is anyone to stream to and it is not running."""
        if not self.running and self.watched(self.kind):
            log.info("%s streamer starting", self.kind.value)
            self._wake.clear()
            self._task = asyncio.get_running_loop().create_task(self._run())

    def notify(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        try:
            loop = asyncio.get_running_loop()
            # a quick unsubscribe/subscribe must not make two rounds within one interval
            next_at = max(loop.time(), self._last_tick + (self.interval or 0.0))
            while True:
                if self.interval is None:
                    await self._wake.wait()
                    self._wake.clear()
                else:
                    # a fixed cadence: the time spent sending is not added to the period
                    await asyncio.sleep(max(0.0, next_at - loop.time()))
                    self._last_tick = loop.time()
                    next_at += self.interval
                    if next_at <= self._last_tick:  # fell behind: skip ahead, never burst
                        next_at = self._last_tick + self.interval
                symbols = self.watched(self.kind)
                if not symbols:
                    log.info("%s streamer stopping: no subscribers", self.kind.value)
                    return
                updates = {}
                for symbol in symbols:
                    payload = self.build(symbol)
                    if payload is None:
                        continue
                    if self.interval is not None:
                        self.metrics.conflated(self._updates.pop(symbol, 0) - 1)
                    updates[symbol] = payload
                try:
                    self.send(updates)
                except Exception:  # one failed round must not stop the stream
                    log.exception("%s round of %d symbols failed", self.kind.value, len(updates))
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


class TradeTape:
    """Buffers each market step's trades for symbols someone listens to."""

    def __init__(self, watched: Watched) -> None:
        self.watched = watched
        self._pending: dict[str, list[Trade]] = {}

    def collect(self, quotes: list[Quote]) -> None:
        """Keep this step's trades of the symbols someone listens to (while the trade
        streamer runs)."""
        listening = set(self.watched(TopicKind.TRADE))
        for q in quotes:
            if q.trades and q.symbol in listening:
                buf = self._pending.setdefault(q.symbol, [])
                buf.extend(q.trades)
                del buf[:-MAX_BUFFERED_TRADES]
        for symbol in [s for s in self._pending if s not in listening]:
            del self._pending[symbol]  # nobody listens any more

    def drain(self, symbol: str) -> dict[str, Any] | None:
        trades = self._pending.pop(symbol, None)
        return trade_update(symbol, trades) if trades else None


class MarketStreams:
    """The three market-data streamers, by topic kind."""

    def __init__(self, market: MarketSource, metrics: Metrics, publish: Publish,
                 watched: Watched, *, price_interval: float,
                 orderbook_interval: float) -> None:
        """``publish``: where each kind's rounds go (the bus); ``watched``: the symbols
        to stream, by kind."""
        self.market = market
        self._book_sent: dict[str, int] = {}
        self.tape = TradeTape(watched)
        self.recent = RecentTrades()  # every symbol's last trades (GET /api/trades)
        self.price = MarketStreamer(TopicKind.PRICE, "price_update", self._price,
                                    price_interval, metrics,
                                    publish(TopicKind.PRICE, "price_update"), watched)
        self.orderbook = MarketStreamer(TopicKind.ORDERBOOK, "orderbook_update", self._book,
                                        orderbook_interval, metrics,
                                        publish(TopicKind.ORDERBOOK, "orderbook_update"),
                                        watched)
        self.trade = MarketStreamer(TopicKind.TRADE, "trade_update", self.tape.drain, None,
                                    metrics, publish(TopicKind.TRADE, "trade_update"), watched)
        self.by_kind = {s.kind: s for s in (self.price, self.orderbook, self.trade)}

    def on_quotes(self, quotes: list[Quote]) -> None:
        """The market-feed listener for all three streamers."""
        self.price.on_quotes(quotes)
        self.orderbook.on_quotes(quotes)
        self.recent.on_quotes(quotes)
        if self.trade.running:
            self.tape.collect(quotes)
            self.trade.notify()  # every step: it also notices its last subscriber left

    def ensure_running(self, kind: TopicKind) -> None:
        streamer = self.by_kind.get(kind)
        if streamer is not None:
            streamer.ensure_running()

    def joined(self, kind: TopicKind, symbol: str) -> None:
        """A new subscriber: make sure the next round sends it the whole book."""
        if kind is TopicKind.ORDERBOOK:
            self._book_sent.pop(symbol, None)
        self.ensure_running(kind)

    async def stop(self) -> None:
        for s in self.by_kind.values():
            await s.stop()

    def status(self) -> dict[str, bool]:
        return {kind.value: s.running for kind, s in self.by_kind.items()}

    def _price(self, symbol: str) -> dict[str, Any] | None:
        q = self.market.quote(symbol)
        return price_update(q) if q is not None else None

    def _book(self, symbol: str) -> dict[str, Any] | None:
        version = self.market.book_version(symbol)
        if self._book_sent.get(symbol) == version:
            return None  # unchanged since the last send
        book = self.market.book(symbol)
        if book is None:
            return None
        self._book_sent[symbol] = version
        return orderbook_update(book)
