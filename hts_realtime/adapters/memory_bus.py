"""The bus: publish/subscribe between the process that makes data and the
processes that serve clients.

Two implementations sit behind one small interface: ``MemoryBus`` (one
process, the embedded default) and ``adapters.redis_bus.RedisBus`` (an engine
and any number of gateways). Messages are bytes on named channels; what a
channel carries is the publisher's business (``md:{kind}:{key}`` market data,
``pv:{user_id}`` private events).

Delivery is at most once, like Redis pub/sub: a subscriber that was away
misses what was published meanwhile. Whoever needs more (the private stream)
keeps a position and reads what it missed from an event log;
``on_resubscribed`` tells it when to look.

Not to be confused with ``engine.broker``: that is the paper-trading broker.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from hts_realtime.ports import Handler, Resubscribed

log = logging.getLogger("hts.bus")


class MemoryBus:
    """In-process: a publish calls each subscriber's handler directly.

    Never loses a message, so ``on_resubscribed`` callbacks never run.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self.published = 0

    async def publish(self, channel: str, data: bytes) -> None:
        self.published += 1
        for handler in list(self._handlers.get(channel, ())):
            try:
                handler(channel, data)
            except Exception:  # one bad subscriber must not stop the others
                log.exception("channel=%s handler failed", channel)

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        for channel, data in messages:
            await self.publish(channel, data)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        if handler not in self._handlers[channel]:
            self._handlers[channel].append(handler)

    async def unsubscribe(self, channel: str, handler: Handler) -> None:
        handlers = self._handlers.get(channel)
        if handlers is not None and handler in handlers:
            handlers.remove(handler)
            if not handlers:
                del self._handlers[channel]

    def on_resubscribed(self, callback: Resubscribed) -> None:
        pass

    def channels(self) -> int:
        return len(self._handlers)

    async def close(self) -> None:
        self._handlers.clear()
