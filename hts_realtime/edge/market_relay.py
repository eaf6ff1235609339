"""Market data from the bus to this process's rooms.

A public topic (``price:{symbol}``, and any broadcast topic whose room is its
name) maps to one bus channel, ``md:{topic}``. This process subscribes to
that channel while at least one of its own sessions wants the topic, and
hands each message to the fan-out once: the bus carries one message per
tick per topic whatever the number of clients, and the fan-out encodes it
once for all of them. A gateway with nobody watching a symbol receives
nothing for it.

Prices of one tick arrive together (the publisher sends them in one round
trip); whatever has arrived when the relay wakes goes to ``Fanout.prices``
as one tick, so a client gets its symbols in one write (or one
``price_batch``). Other broadcast topics go to ``Fanout.broadcast``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from hts_realtime.edge.fanout import Fanout
from hts_realtime.edge.sessions import SessionRegistry
from hts_realtime.ports import (
    CHANNEL_PREFIX,
    MARKET_STATUS_CHANNEL,
    Bus,
    feed_channel,
    market_channel,
)
from hts_realtime.protocol.topics import Topic, price_symbol

log = logging.getLogger("hts.relay")
FEED_PREFIX = "feed:"  # md:feed:{symbol}, ports.feed_channel


class MarketRelay:
    def __init__(
        self,
        bus: Bus,
        fanout: Fanout,
        registry: SessionRegistry,
        on_interest: Callable[[Topic], None] | None = None,
        on_status: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.on_status = on_status  # a gateway: the engine view caches the market's session
        self.bus = bus
        self.fanout = fanout
        self.registry = registry
        self.on_interest = on_interest  # one process: start the lazy streamer of that kind
        self._topics: set[str] = set()
        self._symbols: dict[str, int] = {}  # symbol -> its market topics held here
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.received = 0

    @property
    def topics(self) -> int:
        return len(self._topics)

    async def want(self, topic: Topic) -> None:
        """A local session subscribed to public ``topic`` (already in the registry)."""
        if self.on_interest is not None:
            self.on_interest(topic)
        if topic.name in self._topics:
            return
        self._topics.add(topic.name)
        await self.bus.subscribe(market_channel(topic.name), self._on_message)
        log.info("topic=%s bus subscribed", topic.name)
        self._symbols[topic.key] = self._symbols.get(topic.key, 0) + 1
        if self._symbols[topic.key] == 1:  # how this symbol's data reaches the engine
            await self.bus.subscribe(feed_channel(topic.key), self._on_message)

    async def release(self, topic: Topic) -> None:
        """A local session left ``topic``; drop the channel once nobody here wants it."""
        if topic.name not in self._topics or self.registry.has_topic(topic):
            return
        self._topics.discard(topic.name)
        await self.bus.unsubscribe(market_channel(topic.name), self._on_message)
        log.info("topic=%s bus unsubscribed", topic.name)
        left = self._symbols.get(topic.key, 1) - 1
        if left > 0:
            self._symbols[topic.key] = left
        else:
            self._symbols.pop(topic.key, None)
            await self.bus.unsubscribe(feed_channel(topic.key), self._on_message)

    def _on_message(self, channel: str, data: bytes) -> None:
        self._queue.put_nowait((channel, data))

    async def follow_market_status(self) -> None:
        """A gateway: ``market_status`` changes go to every connection here."""
        await self.bus.subscribe(MARKET_STATUS_CHANNEL, self._on_status)

    def _on_status(self, channel: str, data: bytes) -> None:
        try:
            msg = json.loads(data)
            if self.on_status is not None:
                self.on_status(msg["payload"])
            self.fanout.to_all(str(msg["event"]), msg["payload"])
        except Exception:
            log.exception("market_status relay failed")

    def _feed_status(self, symbol: str, data: bytes) -> None:
        if symbol not in self._symbols:
            return  # arrived after the last local subscriber of the symbol left
        try:
            msg = json.loads(data)
            self.fanout.to_symbol(str(msg["event"]), msg["payload"], symbol)
        except Exception:
            log.exception("symbol=%s feed status relay failed", symbol)

    async def run(self) -> None:
        """Hand bus messages to the fan-out in arrival order. Runs for the app's lifetime."""
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            prices: dict[str, dict[str, Any]] = {}
            for channel, data in batch:
                topic = channel[len(CHANNEL_PREFIX):]
                if topic.startswith(FEED_PREFIX):
                    self._feed_status(topic[len(FEED_PREFIX):], data)
                    continue
                if topic not in self._topics:
                    continue  # arrived after the last local subscriber left
                self.received += 1
                try:
                    msg = json.loads(data)
                    symbol = price_symbol(topic)
                    if symbol is not None and msg["event"] == "price_update":
                        if symbol in prices:  # a second tick of it: the first goes now
                            self.fanout.prices(prices)
                            prices = {}
                        prices[symbol] = msg["payload"]
                    else:
                        self.fanout.broadcast(str(msg["event"]), msg["payload"], topic)
                except Exception:  # one bad message must not stop the relay
                    log.exception("topic=%s relay failed", topic)
            if prices:
                try:
                    self.fanout.prices(prices)
                except Exception:
                    log.exception("price tick of %d symbols failed", len(prices))
