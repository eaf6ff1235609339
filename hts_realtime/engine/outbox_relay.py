"""The engine's outbox relay: committed private events, from the database to Redis.

One task, so events reach Redis in commit order. It wakes when the journal
commits (``notify``) and also once a second, which is when it checks the
epoch: a Redis that lost its data (restarted without persistence, or new)
gets every user's recent events again from the journal, oldest first,
before anything newer is sent. While Redis is unreachable the rows wait in
the outbox table and the relay retries with backoff; gateways read what they
missed from the streams once it is back.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from redis.exceptions import RedisError

from hts_realtime.domain.events import PrivateEvent
from hts_realtime.engine.journal import Journal
from hts_realtime.engine.pending_events import PendingEvents
from hts_realtime.ports import StreamWriter
from hts_realtime.storage.store import StoreUnavailable

log = logging.getLogger("hts.outbox")

IDLE_CHECK_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 2.0


class OutboxRelay:
    def __init__(
        self, outbox: PendingEvents, journal: Journal, log_: StreamWriter, batch: int
    ) -> None:
        self.outbox = outbox
        self.journal = journal
        self.log = log_
        self.batch = batch
        self._wake = asyncio.Event()
        self.sent = 0
        self.refills = 0
        self.failures = 0
        self.connected = False
        self.backlog = 0  # rows the last read found waiting (status; a count would scan)

    def notify(self, ev: PrivateEvent) -> None:
        """Subscribed to the domain's EventBus: something was committed."""
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.05
        while True:
            try:
                if not await self.log.has_epoch():
                    await self._refill()
                self.connected = True
                backoff = 0.05
                await self._drain_forever()
            except (RedisError, OSError, StoreUnavailable) as exc:
                if self.connected:
                    log.warning("redis or the database unreachable (%r); committed events "
                                "wait in the outbox", exc)
                self.connected = False
                self.failures += 1
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    async def _drain_forever(self) -> None:
        while True:
            upto, events = await self.outbox.pending(self.batch)
            self.backlog = len(events)
            if upto:
                self.sent += await self.log.append_many(events)
                await self.outbox.done(upto)
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), IDLE_CHECK_SECONDS)
            except TimeoutError:
                if not await self.log.has_epoch():
                    return  # Redis lost its data: refill first

    async def _refill(self) -> None:
        """Give a fresh Redis each user's last ``max_length`` events, then an epoch."""
        users = await self.journal.streams()
        n = 0
        for user_id, last in users:
            after = max(0, last - self.log.max_length)
            pending: list[PrivateEvent] = []
            async for ev in self.journal.read_after(user_id, after, last):
                pending.append(ev)
                if len(pending) >= self.batch:
                    n += await self.log.append_many(pending)
                    pending = []
            n += await self.log.append_many(pending)
        await self.log.set_epoch(uuid.uuid4().hex)
        self.refills += 1
        log.info("redis had no epoch: refilled %d events of %d users from the journal",
                 n, len(users))
