"""Streamers: background tasks that push market data to rooms.

One ``MarketStreamer`` per market-data topic kind (``price:``,
``orderbook:``, ``trade:``). Each is lazy and auto-stopping: it starts when
the first subscription of its kind appears and stops by itself once the
last one goes. Each round it builds one payload per subscribed symbol and
sends it to that symbol's room through ``Fanout`` — one packet encoded once
per symbol, whatever the number of subscribers.

* ``price_update`` and ``orderbook_update`` run on a fixed cadence and are
  conflated: at most one per symbol per interval, the latest state (an
  unchanged book is not sent again);
* ``trade_update`` runs on the market's clock: the feed calls
  ``TradeTape.on_quotes`` after each step, and every trade of the step
  goes out in one event per symbol, oldest first (``notify``).

Where a round goes is the composition root's choice (``publish``): on the
bus (``market_relay.MarketPublisher``, ``md:{kind}:{symbol}``), from which
each process's ``MarketRelay`` hands it to its own fan-out. In one process
the bus is in memory and the streamers watch what this process's clients
watch; a cluster's engine streams every symbol (``every_symbol``: it cannot
see the gateways' clients, and a publish nobody subscribes to costs Redis
next to nothing), and each gateway subscribes only to what its clients watch.

Order and strategy events are not streamed by polling: they are pushed
the moment they are committed, through ``Fanout.publish``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from hts_realtime.domain.market import MarketSimulator, Quote
from hts_realtime.domain.orderbook import Trade
from hts_realtime.edge.fanout import Fanout
from hts_realtime.edge.sessions import SessionRegistry
from hts_realtime.engine.payloads import orderbook_update, price_update, trade_update
from hts_realtime.ops.metrics import Metrics
from hts_realtime.protocol.topics import TopicKind, market_topic

log = logging.getLogger("hts.streamer")

Build = Callable[[str], "dict[str, Any] | None"]
Send = Callable[[dict[str, dict[str, Any]]], None]
Publish = Callable[[TopicKind, str], Send]  # (kind, event) -> where that kind's rounds go
Watched = Callable[[TopicKind], list[str]]  # the symbols to stream, by kind
MAX_BUFFERED_TRADES = 1000  # per symbol between two sends; older ones are dropped


class MarketStreamer:
    def __init__(self, kind: TopicKind, event: str, registry: SessionRegistry, fanout: Fanout,
                 build: Build, interval: float | None, metrics: Metrics,
                 send: Send | None = None, watched: Watched | None = None) -> None:
        """``interval`` None: event-driven, one round per ``notify()``. ``send`` takes
        one round's payloads by symbol (default: each to its symbol's room);
        ``watched`` names the symbols (default: what this process's clients watch)."""
        self.kind = kind
        self.watched = watched or registry.subscribed_symbols
        self.event = event
        self.send = send or self._to_rooms
        self.metrics = metrics
        self._updates: Counter[str] = Counter()  # market updates per symbol since its last send
        self.registry = registry
        self.fanout = fanout
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

    def _to_rooms(self, updates: dict[str, dict[str, Any]]) -> None:
        # conflated per (event, room) in a lagging client's outbox: a slow client
        # gets the latest book, and may miss older trade batches (volume shows the gap)
        for symbol, payload in updates.items():
            self.fanout.broadcast(self.event, payload, market_topic(self.kind, symbol))

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
        self.streamer: MarketStreamer | None = None

    def on_quotes(self, quotes: list[Quote]) -> None:
        streamer = self.streamer
        if streamer is None or not streamer.running:
            return
        listening = set(self.watched(TopicKind.TRADE))
        for q in quotes:
            if q.trades and q.symbol in listening:
                buf = self._pending.setdefault(q.symbol, [])
                buf.extend(q.trades)
                del buf[:-MAX_BUFFERED_TRADES]
        for symbol in [s for s in self._pending if s not in listening]:
            del self._pending[symbol]  # nobody listens any more
        streamer.notify()  # every step: the streamer also notices its last subscriber left

    def drain(self, symbol: str) -> dict[str, Any] | None:
        trades = self._pending.pop(symbol, None)
        return trade_update(symbol, trades) if trades else None


class MarketStreams:
    """The three market-data streamers, by topic kind."""

    def __init__(self, market: MarketSimulator, registry: SessionRegistry, fanout: Fanout,
                 metrics: Metrics, *, price_interval: float, orderbook_interval: float,
                 publish: Publish | None = None, every_symbol: list[str] | None = None) -> None:
        """``publish``: send each kind's rounds there instead of to this process's
        rooms; ``every_symbol``: stream these whether or not anyone here watches."""
        self.market = market
        self._book_sent: dict[str, int] = {}
        watched: Watched = (registry.subscribed_symbols if every_symbol is None
                            else lambda kind: every_symbol)

        def send(kind: TopicKind, event: str, default: Send | None) -> Send | None:
            return publish(kind, event) if publish is not None else default

        self.tape = TradeTape(watched)
        # prices go out as one tick (price_batch for connections that asked for it)
        self.price = MarketStreamer(TopicKind.PRICE, "price_update", registry, fanout,
                                    self._price, price_interval, metrics,
                                    send(TopicKind.PRICE, "price_update", fanout.prices),
                                    watched)
        self.orderbook = MarketStreamer(TopicKind.ORDERBOOK, "orderbook_update", registry,
                                        fanout, self._book, orderbook_interval, metrics,
                                        send(TopicKind.ORDERBOOK, "orderbook_update", None),
                                        watched)
        self.trade = MarketStreamer(TopicKind.TRADE, "trade_update", registry, fanout,
                                    self.tape.drain, None, metrics,
                                    send(TopicKind.TRADE, "trade_update", None), watched)
        self.tape.streamer = self.trade
        self.by_kind = {s.kind: s for s in (self.price, self.orderbook, self.trade)}

    def on_quotes(self, quotes: list[Quote]) -> None:
        """The market-feed listener for all three streamers."""
        self.price.on_quotes(quotes)
        self.orderbook.on_quotes(quotes)
        self.tape.on_quotes(quotes)

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
