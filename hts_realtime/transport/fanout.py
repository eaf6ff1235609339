"""Fan-out: the one place that sends anything to clients.

Two kinds of traffic leave here:

* **Broadcast** (prices): one emit to a room. python-socketio encodes the
  packet once for all recipients.
* **The private stream** (orders, strategies): events of one user, in
  ``seq`` order, to that user's sessions whose subscriptions match. A
  session that is still connecting or replaying its backlog is not *live*:
  its private events wait in ``session.pending`` and are delivered after
  the replay, skipping any ``seq`` the replay already sent. Each session
  remembers the last ``seq`` it was sent, so nothing arrives twice and
  nothing overtakes the replay.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from hts_realtime.domain.events import Journal, PrivateEvent
from hts_realtime.metrics import Metrics
from hts_realtime.transport.sessions import Session, SessionRegistry

log = logging.getLogger("hts.fanout")

REPLAY_YIELD_EVERY = 200


class Fanout:
    def __init__(self, sio: socketio.AsyncServer, registry: SessionRegistry, journal: Journal,
                 metrics: Metrics):
        self.sio = sio
        self.registry = registry
        self.journal = journal
        self.metrics = metrics
        # each event with the monotonic time it was published (for the delivery-lag metric)
        self._private: asyncio.Queue[tuple[PrivateEvent, float]] = asyncio.Queue()
        # publish counters, reported by GET /api/ws/status
        self.sent_private = 0  # private events delivered (per recipient session)
        self.sent_broadcast = 0  # room emits (one per symbol per tick)

    # -- broadcast -----------------------------------------------------------------
    async def to_room(self, event: str, payload: dict[str, Any], room: str,
                      recipients: int = 0) -> None:
        """``recipients`` (the room's size, as the caller knows it) feeds the metrics."""
        self.sent_broadcast += 1
        self.metrics.sent(event, recipients)
        await self.sio.emit(event, payload, room=room)

    async def to_sid(self, sid: str, event: str, payload: dict[str, Any]) -> None:
        self.metrics.sent(event)
        try:
            await self.sio.emit(event, payload, to=sid)
        except Exception:  # a send to a vanished client must not hurt the caller
            log.warning("sid=%s send of %s failed", sid, event, exc_info=True)

    # -- the private stream --------------------------------------------------------
    def publish(self, ev: PrivateEvent) -> None:
        """Called synchronously by the domain's EventBus after commit."""
        self._private.put_nowait((ev, time.monotonic()))

    async def run_private(self) -> None:
        """Deliver private events in publish order. Runs for the app's lifetime."""
        while True:
            ev, published_at = await self._private.get()
            try:
                await self._deliver(ev)
                self.metrics.delivery_lag(published_at)
            except Exception:
                log.exception("user=%s seq=%s delivery failed", ev.user_id, ev.seq)

    async def _deliver(self, ev: PrivateEvent) -> None:
        recipients: list[str] = []
        for session in self.registry.sessions_of(ev.user_id):
            if not session.wants(ev.topics):
                continue
            if not session.live:
                session.pending.append(ev)
            elif ev.seq > session.delivered_seq:
                session.delivered_seq = ev.seq
                recipients.append(session.sid)
        if recipients:
            self.sent_private += len(recipients)
            self.metrics.sent(ev.event, len(recipients))
            await self.sio.emit(ev.event, ev.payload, to=recipients)

    async def open_session(
        self,
        session: Session,
        last_seq: int | None,
        connected: Callable[[int], dict[str, Any]],
        after_connected: Callable[[Session], Awaitable[None]],
    ) -> None:
        """Send ``connected``, replay what the client missed, then go live.

        Runs once per connection, right after the handshake is accepted.
        ``after_connected`` runs between the two (the gateway enters the
        session's rooms there, so no broadcast precedes ``connected``).
        """
        sid, user_id = session.sid, session.user_id
        head = self.journal.last_seq(user_id)
        await self.to_sid(sid, "connected", connected(head))
        await after_connected(session)
        if last_seq is not None and last_seq != head:
            first = self.journal.first_kept_seq(user_id)
            kept_from = first if first is not None else head + 1
            if last_seq > head or last_seq < kept_from - 1:
                log.info("sid=%s user=%s resync_required last_seq=%s head=%s",
                         sid, user_id, last_seq, head)
                self.metrics.resync()
                await self.to_sid(sid, "resync_required", {
                    "type": "resync_required", "code": "resync_required", "last_seq": head,
                })
            else:
                n = 0
                for ev in self.journal.read_after(user_id, last_seq, head):
                    if session.wants(ev.topics):
                        await self.sio.emit(ev.event, ev.payload, to=sid)
                        self.sent_private += 1
                        self.metrics.sent(ev.event)
                        n += 1
                        if n % REPLAY_YIELD_EVERY == 0:
                            await asyncio.sleep(0)
                log.info("sid=%s user=%s replayed %d events after seq %s",
                         sid, user_id, n, last_seq)
                self.metrics.replayed(n)
        session.delivered_seq = max(session.delivered_seq, head)
        while session.pending:
            ev = session.pending.pop(0)
            if ev.seq > session.delivered_seq:
                session.delivered_seq = ev.seq
                self.sent_private += 1
                self.metrics.sent(ev.event)
                await self.sio.emit(ev.event, ev.payload, to=sid)
        session.live = True
