"""The engine's side of market data: each streamer round, one bus message per topic.

Gateways (and one process's own edge) subscribe to the ``md:{topic}`` channels
(``ports.market_channel``) their clients watch; ``edge.market_relay`` hands what
arrives to the fan-out.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from hts_realtime.ports import MARKET_STATUS_CHANNEL, Bus, feed_channel, market_channel
from hts_realtime.protocol.topics import TopicKind, market_topic

log = logging.getLogger("hts.relay")


def market_message(event: str, payload: dict[str, Any]) -> bytes:
    """Encoded once by the publisher, for every gateway."""
    return json.dumps({"event": event, "payload": payload}, separators=(",", ":"),
                      ensure_ascii=False).encode()


Send = Callable[[dict[str, dict[str, Any]]], None]


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
        self.dropped = 0
        # a cluster's engine publishes only while it leads (engine.standby): a leader
        # woken from a pause past its lease sends nothing before it steps down
        self.active: Callable[[], bool] = lambda: True

    def sender(self, kind: TopicKind, event: str) -> Send:
        def send(updates: dict[str, dict[str, Any]]) -> None:
            if updates:
                self._queue.put_nowait([
                    (market_channel(market_topic(kind, symbol)), market_message(event, payload))
                    for symbol, payload in updates.items()])
        return send

    def feed_status(self, symbol: str, payload: dict[str, Any]) -> None:
        """How ``symbol``'s data reaches us changed (``feed_status``): to everyone who
        holds any of its market topics, once each (``ports.feed_channel``)."""
        self._queue.put_nowait([(feed_channel(symbol), market_message("feed_status", payload))])

    def symbol_status(self, symbol: str, payload: dict[str, Any]) -> None:
        """A symbol's own state changed (``symbol_status``: a VI, a limit): like
        ``feed_status``, to everyone who holds any of its market topics, once each."""
        self._queue.put_nowait([(feed_channel(symbol),
                                 market_message("symbol_status", payload))])

    def status(self, payload: dict[str, Any]) -> None:
        """The market's session changed (``market_status``, for every connection)."""
        self._queue.put_nowait([(MARKET_STATUS_CHANNEL,
                                 market_message("market_status", payload))])

    async def run(self) -> None:
        while True:
            messages = await self._queue.get()
            while not self._queue.empty() and len(messages) < MAX_PUBLISH_BATCH:
                messages.extend(self._queue.get_nowait())
            if not self.active():
                self.dropped += len(messages)
                continue
            try:
                await self.bus.publish_many(messages)
                self.published += len(messages)
            except Exception:
                self.failures += 1
                if self.failures == 1 or self.failures % 60 == 0:
                    log.warning("market data publish failed (%d so far)", self.failures,
                                exc_info=True)
