"""``Bus`` over Redis pub/sub.

One connection publishes (pipelined for ``publish_many``); one connection
subscribes, read by one task (``run``). A subscribe returns once Redis has
confirmed it, so a caller can read an event log's head afterwards and know
that nothing published later is missed.

When the subscribing connection fails (Redis restarted, network cut) the
loop reconnects with backoff, subscribes to every channel again, and then
runs the ``on_resubscribed`` callbacks: pub/sub does not queue, so whatever
was published in between is gone, and subscribers that need it read it from
their log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from hts_realtime.ports import Handler, Resubscribed

log = logging.getLogger("hts.bus")

SUBSCRIBE_WAIT_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 2.0


class RedisBus:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._pubsub: PubSub | None = None
        self._confirmed: dict[str, asyncio.Event] = {}
        self._resubscribed: list[Resubscribed] = []
        self.published = 0
        self.received = 0
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        return self._pubsub is not None

    # -- publishing ----------------------------------------------------------------------
    async def publish(self, channel: str, data: bytes) -> None:
        await self.redis.publish(channel, data)
        self.published += 1

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        if not messages:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for channel, data in messages:
                pipe.publish(channel, data)
            await pipe.execute()
        self.published += len(messages)

    # -- subscribing ---------------------------------------------------------------------
    async def subscribe(self, channel: str, handler: Handler) -> None:
        handlers = self._handlers[channel]
        if handler in handlers:
            return
        handlers.append(handler)
        if len(handlers) > 1:
            return
        confirmed = self._confirmed.setdefault(channel, asyncio.Event())
        if self._pubsub is not None:
            try:
                await self._pubsub.subscribe(channel)
            except (RedisError, OSError):
                log.warning("channel=%s subscribe failed; will subscribe on reconnect", channel)
        # while Redis is down this returns after the wait; the reconnect subscribes
        # the channel and the resubscribed callbacks repair what was missed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(confirmed.wait(), SUBSCRIBE_WAIT_SECONDS)

    async def unsubscribe(self, channel: str, handler: Handler) -> None:
        handlers = self._handlers.get(channel)
        if handlers is None or handler not in handlers:
            return
        handlers.remove(handler)
        if handlers:
            return
        del self._handlers[channel]
        self._confirmed.pop(channel, None)
        if self._pubsub is not None:
            try:
                await self._pubsub.unsubscribe(channel)
            except (RedisError, OSError):
                log.warning("channel=%s unsubscribe failed", channel)

    def on_resubscribed(self, callback: Resubscribed) -> None:
        self._resubscribed.append(callback)

    def channels(self) -> int:
        return len(self._handlers)

    # -- the reader ----------------------------------------------------------------------
    async def run(self) -> None:
        """Read the subscribing connection for the app's lifetime, reconnecting."""
        backoff = 0.05
        first = True
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.ping()  # connects, or raises
                if self._handlers:
                    await pubsub.subscribe(*self._handlers)
                self._pubsub = pubsub
                if not first:
                    self.reconnects += 1
                    log.info("bus reconnected; %d channels subscribed again", len(self._handlers))
                    for callback in self._resubscribed:
                        asyncio.get_running_loop().create_task(callback())
                first = False
                backoff = 0.05
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None:
                        self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self._pubsub is not None:  # once per outage, not once per retry
                    log.warning("bus connection lost: %s", exc)
            finally:
                self._pubsub = None
                for event in self._confirmed.values():
                    event.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = message["channel"]
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        if kind == "subscribe":
            event = self._confirmed.get(name)
            if event is not None:
                event.set()
            return
        if kind != "message":
            return
        self.received += 1
        for handler in list(self._handlers.get(name, ())):
            try:
                handler(name, message["data"])
            except Exception:
                log.exception("channel=%s handler failed", name)

    async def close(self) -> None:
        self._handlers.clear()
