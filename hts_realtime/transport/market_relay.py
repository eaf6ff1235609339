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

from hts_realtime.services.bus import Bus
from hts_realtime.topics import Topic, TopicKind, market_topic, price_symbol
from hts_realtime.transport.fanout import Fanout
from hts_realtime.transport.sessions import SessionRegistry

log = logging.getLogger("hts.relay")

CHANNEL_PREFIX = "md:"


def market_channel(topic: str) -> str:
    return CHANNEL_PREFIX + topic


def market_message(event: str, payload: dict[str, Any]) -> bytes:
    """Encoded once by the publisher, for every gateway."""
    return json.dumps({"event": event, "payload": payload}, separators=(",", ":"),
                      ensure_ascii=False).encode()


Send = Callable[[dict[str, dict[str, Any]]], None]
MARKET_STATUS_CHANNEL = "market_status"
MAX_PUBLISH_BATCH = 5000


class MarketPublisher:
    """The streamers' side: each round, one bus message per topic, in one round trip.

    Streamers hand their rounds over synchronously (``sender``); one task
    publishes them in order. A bus outage drops rounds (market data is
    conflated: the next round carries the latest state), never the stream.
    """

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._queue: asyncio.Queue[list[tuple[str, bytes]]] = asyncio.Queue()
        self.published = 0
        self.failures = 0

    def sender(self, kind: TopicKind, event: str) -> Send:
        def send(updates: dict[str, dict[str, Any]]) -> None:
            if updates:
                self._queue.put_nowait([
                    (market_channel(market_topic(kind, symbol)), market_message(event, payload))
                    for symbol, payload in updates.items()])
        return send

    def status(self, payload: dict[str, Any]) -> None:
        """The market's session changed (``market_status``, for every connection)."""
        self._queue.put_nowait([(MARKET_STATUS_CHANNEL,
                                 market_message("market_status", payload))])

    async def run(self) -> None:
        while True:
            messages = await self._queue.get()
            while not self._queue.empty() and len(messages) < MAX_PUBLISH_BATCH:
                messages.extend(self._queue.get_nowait())
            try:
                await self.bus.publish_many(messages)
                self.published += len(messages)
            except Exception:
                self.failures += 1
                if self.failures == 1 or self.failures % 60 == 0:
                    log.warning("market data publish failed (%d so far)", self.failures,
                                exc_info=True)


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

    async def release(self, topic: Topic) -> None:
        """A local session left ``topic``; drop the channel once nobody here wants it."""
        if topic.name not in self._topics or self.registry.has_topic(topic):
            return
        self._topics.discard(topic.name)
        await self.bus.unsubscribe(market_channel(topic.name), self._on_message)
        log.info("topic=%s bus unsubscribed", topic.name)

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

    async def run(self) -> None:
        """Hand bus messages to the fan-out in arrival order. Runs for the app's lifetime."""
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            prices: dict[str, dict[str, Any]] = {}
            for channel, data in batch:
                topic = channel[len(CHANNEL_PREFIX):]
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
