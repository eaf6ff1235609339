"""Fan-out: the one place that decides what each client is sent.

Every send goes into the recipient connection's ``Outbox``
(``edge/outbox.py``), which writes to the connection at once while it
keeps up and bounds what waits when it does not. Fan-out is
transport-neutral: an outbox sits on a ``Connection``, which frames the
messages its own way. Two framings exist:

* **Socket.IO** connections: the Engine.IO socket in
  ``edge.socketio.connection`` is the ``Connection`` (WebSocket frames built
  once per broadcast, or long-polling packets); ``sio.outbox_of(sid)`` finds it.
* **Plain WebSocket** (``/api/ws``): ``plain_ws.WsConnection`` is the
  ``Connection``, *attached* here; its framing is the payload's JSON text
  (``PLAIN_TEXT``), rendered once per message however many connections
  receive it. Same outbox, same bounds, same conflation and pacing.

What leaves here:

* **Broadcast** (market data): ``to_room`` encodes the event once
  (``Message``) and offers it to every member of the room, conflated by
  ``(event, room)``: a client that is behind gets the latest one.
  ``prices`` is the price streamer's per-tick path: each symbol's
  ``price_update`` is encoded once, and each session gets its symbols in
  one transport write, or one ``price_batch`` event if it asked for
  batching (``auth.batch: true``).
* **Replies** (``to_sid``): ordered, never dropped.
* **The private stream** (orders, strategies): events of one user, in
  ``seq`` order, to that user's sessions whose subscriptions match. A
  session that is still connecting or replaying its backlog is not *live*:
  its private events wait in ``session.pending`` and are delivered after
  the replay, skipping any ``seq`` the replay already sent. Each session
  remembers the last ``seq`` it was sent, so nothing arrives twice and
  nothing overtakes the replay. A replay is paced by what the client
  drains: it hands the next event over only when the outbox is empty and
  the connection takes more, so a client that does not read costs one
  transport buffer, not its whole backlog; one that does not drain within
  the outbox's age bound is closed as ``slow_consumer`` and resumes later
  with ``last_seq``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol

from hts_realtime.domain.events import PrivateEvent
from hts_realtime.edge.admin_tap import AdminTap
from hts_realtime.edge.outbox import (
    Connection,
    Message,
    Outbox,
    OutboxFlusher,
    OutboxLimits,
    websocket_frame,
)
from hts_realtime.edge.sessions import Session, SessionRegistry
from hts_realtime.ops.metrics import Metrics
from hts_realtime.ports import EventLog
from hts_realtime.protocol import strict_json
from hts_realtime.protocol.errors import HtsError
from hts_realtime.protocol.topics import price_symbol

log = logging.getLogger("hts.fanout")

REPLAY_YIELD_EVERY = 200
PRICE_BATCH_KEY: Hashable = ("price_batch",)


class SocketIOServer(Protocol):
    """The Socket.IO side, as fan-out needs it (``edge.socketio.servers.SendPathSocketIO``)."""

    def outbox_of(self, sid: str) -> Outbox | None: ...

    async def disconnect(self, sid: str) -> None: ...


class DirectConnection(Connection, Protocol):
    """A connection this server frames itself (the plain WebSocket): an outbox
    ``Connection`` that can also be closed with an error the client sees."""

    async def close(self, error: HtsError | None) -> None: ...


def encode(payload: dict[str, Any]) -> str:
    """A plain-WebSocket frame: the payload itself, which carries its ``type``."""
    return strict_json.dumps(payload)


class PlainTextFraming:
    """A message as a plain-WebSocket text frame (its payload's JSON), built once
    per message: every plain-WebSocket recipient of a broadcast gets the same bytes."""

    def render(self, msg: Message) -> bytes:
        return websocket_frame(msg.payload_json.encode())


PLAIN_TEXT = PlainTextFraming()


class Fanout:
    def __init__(self, sio: SocketIOServer | None, registry: SessionRegistry, log: EventLog,
                 metrics: Metrics, limits: OutboxLimits | None = None,
                 flusher: OutboxFlusher | None = None, tap: AdminTap | None = None) -> None:
        self.sio = sio
        self.tap = tap  # HTS_ADMIN_UI: rooms entered and left are reported here
        self.registry = registry
        self.log = log  # where a resuming session's missed events are read from
        self.metrics = metrics
        self.limits = limits or OutboxLimits()
        self.flusher = flusher or OutboxFlusher()
        self._direct: dict[str, tuple[Outbox, DirectConnection]] = {}
        # each event with the monotonic time it was published (for the delivery-lag metric)
        self._private: asyncio.Queue[tuple[PrivateEvent, float]] = asyncio.Queue()
        # publish counters, reported by GET /api/ws/status
        self.sent_private = 0  # private events handed to recipient sessions
        self.sent_broadcast = 0  # broadcasts (one per room or symbol per tick)

    def status(self) -> dict[str, Any]:
        """Its part of ``GET /api/ws/status``: what it sent, and the send path's state."""
        return {"sent": {"broadcast": self.sent_broadcast, "private": self.sent_private},
                "outbox": {"behind": self.flusher.behind,
                           "slow_consumers": self.flusher.slow_consumers}}

    # -- connections and rooms -------------------------------------------------------
    def attach(self, sid: str, conn: DirectConnection) -> Outbox:
        """A plain-WebSocket connection, and the outbox that sends to it."""
        outbox = Outbox(conn, self.limits, self.flusher)
        self._direct[sid] = (outbox, conn)
        return outbox

    def detach(self, sid: str) -> None:
        entry = self._direct.pop(sid, None)
        if entry is not None:
            entry[0].discard()

    def outbox_of(self, sid: str) -> Outbox | None:
        session = self.registry.get(sid)
        if session is not None and session.outbox is not None:
            return session.outbox
        direct = self._direct.get(sid)
        outbox = direct[0] if direct is not None else None
        if outbox is None and self.sio is not None:
            outbox = self.sio.outbox_of(sid)
        if session is not None:
            session.outbox = outbox
        return outbox

    async def join(self, session: Session, room: str) -> None:
        if self.outbox_of(session.sid) is not None:
            self.registry.enter(session, room, price_symbol(room))
            if self.tap is not None and session.transport == "socketio":
                self.tap.joined(session.sid, room)

    async def leave(self, session: Session, room: str) -> None:
        self.registry.leave(session, room, price_symbol(room))
        if self.tap is not None and session.transport == "socketio":
            self.tap.left(session.sid, room)

    async def close(self, sid: str, error: HtsError | None = None) -> None:
        """End one connection, whatever its framing (the client sees ``error``'s code)."""
        direct = self._direct.get(sid)
        if direct is not None:
            await direct[1].close(error)
            return
        if error is not None:
            self.send(sid, "error", {"type": "error", "event": None, **error.to_dict()})
        if self.sio is not None:
            await self.sio.disconnect(sid)

    # -- broadcast -----------------------------------------------------------------
    async def to_room(self, event: str, payload: dict[str, Any], room: str,
                      recipients: int = 0) -> None:
        """Market data to every member of ``room``, conflated by ``(event, room)``.
        (``recipients`` is not needed: the members are counted here.)"""
        self.broadcast(event, payload, room)

    def broadcast(self, event: str, payload: dict[str, Any], room: str) -> None:
        self.sent_broadcast += 1
        msg = Message(event, payload)
        key = (event, room)
        members = self.registry.members(room)
        for session in members:
            if session.outbox is not None:
                session.outbox.offer(msg, key)
        self.metrics.sent(event, len(members))

    def to_symbol(self, event: str, payload: dict[str, Any], symbol: str) -> None:
        """To every session holding any market topic of ``symbol``, once each (conflated
        per symbol in a lagging client's outbox: the latest state is what counts)."""
        msg = Message(event, payload)
        key = (event, f"symbol:{symbol}")
        members = self.registry.symbol_sessions(symbol)
        for session in members:
            if session.outbox is not None:
                session.outbox.offer(msg, key)
        self.metrics.sent(event, len(members))

    def prices(self, updates: dict[str, dict[str, Any]]) -> None:
        """One price tick: ``updates`` maps each symbol to its ``price_update`` payload."""
        self.sent_broadcast += len(updates)
        msgs = {s: Message("price_update", p) for s, p in updates.items()}
        keys = {s: ("price_update", f"price:{s}") for s in updates}
        singles = batches = 0
        for session in self.registry.price_sessions():
            outbox = session.outbox
            if outbox is None:
                continue
            if session.batch:
                parts = [msgs[s].payload_json for s in session.prices if s in msgs]
                if parts:
                    outbox.offer(Message("price_batch", payload_json=(
                        '{"type":"price_batch","updates":[' + ",".join(parts) + "]}")),
                        PRICE_BATCH_KEY)
                    batches += 1
            else:
                items = [(msgs[s], keys[s]) for s in session.prices if s in msgs]
                outbox.offer_many(items)
                singles += len(items)
        self.metrics.sent("price_update", singles)
        self.metrics.sent("price_batch", batches)

    def to_all(self, event: str, payload: dict[str, Any]) -> None:
        """An ordered message to every open session, whatever its framing
        (``market_status``); encoded once for all of them."""
        self.sent_broadcast += 1
        msg = Message(event, payload)
        n = 0
        for sid in self.registry.sids():
            outbox = self.outbox_of(sid)
            if outbox is not None:
                outbox.send(msg)
                n += 1
        self.metrics.sent(event, n)

    async def to_sid(self, sid: str, event: str, payload: dict[str, Any]) -> None:
        self.send(sid, event, payload)

    def send(self, sid: str, event: str, payload: dict[str, Any]) -> None:
        """An ordered message (a reply, ``connected``...) to one connection."""
        outbox = self.outbox_of(sid)
        if outbox is None:
            log.info("sid=%s send of %s: no such connection", sid, event)
            return
        outbox.send(Message(event, payload))
        self.metrics.sent(event)

    # -- the private stream --------------------------------------------------------
    def publish(self, ev: PrivateEvent) -> None:
        """Called synchronously after commit (the domain's EventBus), or by a cluster
        gateway's private relay; in ``seq`` order per user."""
        self._private.put_nowait((ev, time.monotonic()))

    async def run_private(self) -> None:
        """Deliver private events in publish order. Runs for the app's lifetime."""
        while True:
            ev, published_at = await self._private.get()
            try:
                self.deliver(ev)
                self.metrics.delivery_lag(published_at)
            except Exception:
                log.exception("user=%s seq=%s delivery failed", ev.user_id, ev.seq)

    def deliver(self, ev: PrivateEvent) -> None:
        msg: Message | None = None
        n = 0
        for session in self.registry.sessions_of(ev.user_id):
            if not session.wants(ev.topics):
                continue
            if not session.live:
                session.pending.append(ev)
            elif ev.seq > session.delivered_seq:  # the replay may have sent it already
                session.delivered_seq = ev.seq
                if session.outbox is not None:
                    if msg is None:
                        msg = Message(ev.event, ev.payload)
                    session.outbox.send(msg)
                    n += 1
        self.sent_private += n
        self.metrics.sent(ev.event, n)

    async def open_session(
        self,
        session: Session,
        last_seq: int | None,
        connected: Callable[[int], dict[str, Any]],
        after_connected: Callable[[Session], Awaitable[None]],
    ) -> None:
        """Send ``connected``, replay what the client missed, then go live.

        Runs once per connection, right after the handshake is accepted.
        ``after_connected`` runs between the two (the framing enters the
        session's rooms there, so no broadcast precedes ``connected``).
        """
        sid, user_id = session.sid, session.user_id
        outbox = self.outbox_of(sid)
        if outbox is None:
            log.info("sid=%s user=%s gone before it opened", sid, user_id)
            return
        head = await self.log.head(user_id)
        outbox.send(Message("connected", connected(head)))
        self.metrics.sent("connected")
        await after_connected(session)
        if last_seq is not None and last_seq != head:
            first = await self.log.first_kept(user_id)
            kept_from = first if first is not None else head + 1
            if last_seq > head or last_seq < kept_from - 1:
                log.info("sid=%s user=%s resync_required last_seq=%s head=%s",
                         sid, user_id, last_seq, head)
                self.metrics.resync()
                outbox.send(Message("resync_required", {
                    "type": "resync_required", "code": "resync_required", "last_seq": head,
                }))
                self.metrics.sent("resync_required")
            elif not await self._replay(session, outbox, last_seq, head):
                return
        session.delivered_seq = max(session.delivered_seq, head)
        while session.pending:
            ev = session.pending.pop(0)
            if ev.seq > session.delivered_seq:
                session.delivered_seq = ev.seq
                self.sent_private += 1
                self.metrics.sent(ev.event)
                outbox.send(Message(ev.event, ev.payload))
        session.live = True

    async def _replay(self, session: Session, outbox: Outbox, last_seq: int, head: int) -> bool:
        """Replay ``last_seq < seq <= head``, paced by the client's draining.

        False if the session went away (or was closed as too slow) meanwhile.
        """
        n = 0
        wait = self.limits.max_age
        async for row in self.log.read_after(session.user_id, last_seq, head):
            if not session.wants(row.topics):
                continue
            if (not outbox.empty or not outbox.conn.writable()) \
                    and not await outbox.drained(wait) and not outbox.closed:
                outbox.fail(f"replay not drained in {wait:g} s")
            if outbox.closed:
                log.info("sid=%s user=%s replay stopped after %d events",
                         session.sid, session.user_id, n)
                return False
            outbox.send(Message(row.event, payload_json=row.payload))
            self.sent_private += 1
            self.metrics.sent(row.event)
            n += 1
            if n % REPLAY_YIELD_EVERY == 0:
                await asyncio.sleep(0)
        log.info("sid=%s user=%s replayed %d events after seq %s",
                 session.sid, session.user_id, n, last_seq)
        self.metrics.replayed(n)
        return True
