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

Connections come in two framings. Socket.IO connections are python-socketio
sids (rooms and emits through ``sio``). Plain-WebSocket connections
(``/api/ws``) are *attached* here as a ``DirectConnection``: this class
keeps their room membership and hands each one the JSON text frame,
encoded once per message however many connections receive it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import socketio

from hts_realtime.domain.events import Journal, PrivateEvent
from hts_realtime.errors import HtsError
from hts_realtime.metrics import Metrics
from hts_realtime.transport.sessions import Session, SessionRegistry

log = logging.getLogger("hts.fanout")

REPLAY_YIELD_EVERY = 200


class DirectConnection(Protocol):
    """A connection this server frames itself (the plain WebSocket)."""

    def send_text(self, text: str) -> None:
        """Queue one JSON text frame; never blocks the caller."""

    async def writable(self) -> None:
        """Wait until the connection has room again (a replay paces itself on it)."""

    async def close(self, error: HtsError | None) -> None:
        """Close the connection, saying why when ``error`` is given."""


def encode(payload: dict[str, Any]) -> str:
    """A plain-WebSocket frame: the payload itself, which carries its ``type``."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


class Fanout:
    def __init__(self, sio: socketio.AsyncServer, registry: SessionRegistry, journal: Journal,
                 metrics: Metrics):
        self.sio = sio
        self.registry = registry
        self.journal = journal
        self.metrics = metrics
        # each event with the monotonic time it was published (for the delivery-lag metric)
        self._private: asyncio.Queue[tuple[PrivateEvent, float]] = asyncio.Queue()
        self._direct: dict[str, DirectConnection] = {}
        self._direct_rooms: dict[str, set[str]] = defaultdict(set)
        # publish counters, reported by GET /api/ws/status
        self.sent_private = 0  # private events delivered (per recipient session)
        self.sent_broadcast = 0  # room emits (one per symbol per tick)

    # -- connections and rooms -------------------------------------------------------
    def attach(self, sid: str, conn: DirectConnection) -> None:
        self._direct[sid] = conn

    def detach(self, sid: str) -> None:
        if self._direct.pop(sid, None) is None:
            return
        for room in [r for r, sids in self._direct_rooms.items() if sid in sids]:
            self._leave_direct(sid, room)

    async def join(self, session: Session, room: str) -> None:
        if session.sid in self._direct:
            self._direct_rooms[room].add(session.sid)
        else:
            await self.sio.enter_room(session.sid, room)

    async def leave(self, session: Session, room: str) -> None:
        if session.sid in self._direct:
            self._leave_direct(session.sid, room)
        else:
            await self.sio.leave_room(session.sid, room)

    def _leave_direct(self, sid: str, room: str) -> None:
        sids = self._direct_rooms.get(room)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._direct_rooms[room]

    async def close(self, sid: str, error: HtsError | None = None) -> None:
        """End one connection, whatever its framing (the client sees ``error``'s code)."""
        conn = self._direct.get(sid)
        if conn is not None:
            await conn.close(error)
            return
        if error is not None:
            await self.to_sid(sid, "error", {"type": "error", "event": None, **error.to_dict()})
        await self.sio.disconnect(sid)

    # -- broadcast -----------------------------------------------------------------
    async def to_room(self, event: str, payload: dict[str, Any], room: str,
                      recipients: int = 0) -> None:
        """``recipients`` (the room's size, as the caller knows it) feeds the metrics."""
        self.sent_broadcast += 1
        self.metrics.sent(event, recipients)
        await self.sio.emit(event, payload, room=room)
        direct = self._direct_rooms.get(room)
        if direct:
            text = encode(payload)  # once, for every plain-WebSocket recipient
            for sid in direct:
                self._direct[sid].send_text(text)

    async def to_sid(self, sid: str, event: str, payload: dict[str, Any]) -> None:
        self.metrics.sent(event)
        try:
            await self._send(sid, event, payload)
        except Exception:  # a send to a vanished client must not hurt the caller
            log.warning("sid=%s send of %s failed", sid, event, exc_info=True)

    async def _send(self, sid: str, event: str, payload: dict[str, Any]) -> None:
        conn = self._direct.get(sid)
        if conn is not None:
            conn.send_text(encode(payload))
        else:
            await self.sio.emit(event, payload, to=sid)

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
        direct: list[DirectConnection] = []
        for session in self.registry.sessions_of(ev.user_id):
            if not session.wants(ev.topics):
                continue
            if not session.live:
                session.pending.append(ev)
            elif ev.seq > session.delivered_seq:
                session.delivered_seq = ev.seq
                conn = self._direct.get(session.sid)
                if conn is not None:
                    direct.append(conn)
                else:
                    recipients.append(session.sid)
        self.sent_private += len(recipients) + len(direct)
        self.metrics.sent(ev.event, len(recipients) + len(direct))
        if direct:
            text = encode(ev.payload)
            for conn in direct:
                conn.send_text(text)
        if recipients:
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
                        await self._send(sid, ev.event, ev.payload)
                        self.sent_private += 1
                        self.metrics.sent(ev.event)
                        conn = self._direct.get(sid)
                        if conn is not None:
                            await conn.writable()
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
                await self._send(sid, ev.event, ev.payload)
        session.live = True
