"""Private events from the bus to this process's sessions (a cluster gateway).

The engine appends each committed event to the user's stream and publishes
it on ``pv:{user_id}`` in the same step. A gateway subscribes to that
channel while it has a session of the user, and keeps the last ``seq`` it
passed on for each such user:

* an event at or below it is a duplicate (a re-send, a refill): dropped;
* an event above ``seen + 1`` means pub/sub lost some: the gap is read from
  the stream first, so the fan-out gets every event, in ``seq`` order, once;
* after the bus reconnects, every user's stream is read from ``seen`` on,
  because pub/sub does not queue what was published while it was away.

The fan-out then routes each event to the user's sessions exactly as in one
process (per-session ``delivered_seq``, pending while replaying).
"""

from __future__ import annotations

import asyncio
import json
import logging

from hts_realtime.domain.events import PrivateEvent, decode_event
from hts_realtime.edge.fanout import Fanout
from hts_realtime.edge.sessions import SessionRegistry
from hts_realtime.ports import Bus, EventLog, private_channel

log = logging.getLogger("hts.relay")


class InProcessStreams:
    """One process: the domain's EventBus already hands every event to the fan-out."""

    async def attach(self, user_id: str) -> None:
        pass

    async def detach(self, user_id: str) -> None:
        pass


_RECOVER = "recover"


class PrivateRelay:
    def __init__(
        self, bus: Bus, log_: EventLog, fanout: Fanout, registry: SessionRegistry
    ) -> None:
        self.bus = bus
        self.log = log_
        self.fanout = fanout
        self.registry = registry
        self._seen: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self._queue: asyncio.Queue[PrivateEvent | str] = asyncio.Queue()
        self.gaps_repaired = 0
        self.duplicates = 0
        self.lost = 0
        bus.on_resubscribed(self._resubscribed)

    @property
    def users(self) -> int:
        return len(self._seen)

    async def attach(self, user_id: str) -> None:
        """Before a session of ``user_id`` reads the head: subscribe, then note the head."""
        async with self._lock:
            if user_id in self._seen:
                return
            await self.bus.subscribe(private_channel(user_id), self._on_message)
            self._seen[user_id] = await self.log.head(user_id)

    async def detach(self, user_id: str) -> None:
        async with self._lock:
            if user_id not in self._seen or self.registry.sessions_of(user_id):
                return
            del self._seen[user_id]
            await self.bus.unsubscribe(private_channel(user_id), self._on_message)

    def _on_message(self, channel: str, data: bytes) -> None:
        try:
            self._queue.put_nowait(decode_event(data))
        except (ValueError, KeyError, TypeError):
            log.warning("channel=%s undecodable message dropped", channel)

    async def _resubscribed(self) -> None:
        self._queue.put_nowait(_RECOVER)

    async def run(self) -> None:
        """Pass events on in order. Runs for the app's lifetime."""
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, str):
                    await self._recover()
                else:
                    await self._take(item)
            except Exception:  # Redis down mid-repair: the next reconnect repairs again
                log.exception("private relay failed on %r", item)

    async def _take(self, ev: PrivateEvent) -> None:
        seen = self._seen.get(ev.user_id)
        if seen is None:
            return  # no session here (any more), or the head read covers it
        if ev.seq <= seen:
            self.duplicates += 1
            return
        if ev.seq > seen + 1:
            await self._catch_up(ev.user_id, ev.seq - 1)
        self._pass(ev)

    async def _recover(self) -> None:
        for user_id in list(self._seen):
            await self._catch_up(user_id, await self.log.head(user_id))

    async def _catch_up(self, user_id: str, upto: int) -> None:
        seen = self._seen.get(user_id)
        if seen is None or upto <= seen:
            return
        first = await self.log.first_kept(user_id)
        if first is not None and first > seen + 1:
            self._lost(user_id, seen, first - 1)
            seen = first - 1
        n = 0
        async for row in self.log.read_after(user_id, seen, upto):
            if user_id in self._seen and row.seq > self._seen[user_id]:
                self._pass(PrivateEvent(user_id, row.seq, row.event, row.topics,
                                        json.loads(row.payload)))
                n += 1
        if n:
            self.gaps_repaired += n
            log.info("user=%s %d missed events read from the stream", user_id, n)

    def _lost(self, user_id: str, seen: int, upto: int) -> None:
        """Events ``seen < seq <= upto`` were missed here and are no longer in the stream
        (trimmed to ``HTS_REDIS_STREAM_LENGTH``): this user's connections here are told
        to resync (fetch state over HTTP), then the stream goes on from ``upto``."""
        self.lost += upto - seen
        log.warning("user=%s events %d..%d missed and trimmed: resync_required", user_id,
                    seen + 1, upto)
        self._seen[user_id] = upto
        for session in self.registry.sessions_of(user_id):
            self.fanout.send(session.sid, "resync_required", {
                "type": "resync_required", "code": "resync_required", "last_seq": upto})

    def _pass(self, ev: PrivateEvent) -> None:
        if ev.user_id in self._seen:
            self._seen[ev.user_id] = ev.seq
            self.fanout.publish(ev)
