"""The send path's core: messages encoded once, and a bounded outbox per connection.

Everything the server sends to a client (prices, private events, replies,
acknowledgements, even Engine.IO pings) goes through that client's
``Outbox``, in one order. The outbox writes straight to the connection while
the connection can take more; when it cannot (a client that reads slowly or
not at all), messages wait in the outbox, bounded:

* **conflated** messages (market data: ``price_update``, ``price_batch``,
  and issue 13's ``orderbook_update``/``trade_update``) carry a key such as
  ``(event, topic)``; a newer message with the same key replaces the waiting
  one in place, so a client that falls behind gets the latest quote per
  symbol when it drains, never a backlog;
* **ordered** messages (private events, replies, acks, control packets) are
  never dropped. Past ``max_bytes`` waiting, or when the oldest ordered
  message has waited ``max_age`` seconds, the connection is closed with the
  reason ``slow_consumer`` and the client resumes with ``last_seq``.

The seam for other transports is the small ``Connection`` protocol below:
``framing`` (how a ``Message`` becomes what ``write`` takes), ``write``
(send rendered frames now, synchronously), ``writable`` (whether the
connection takes more now, e.g. its transport buffer is under a high-water
mark) and ``disconnect(reason)``. The Engine.IO socket
(``edge.socketio.connection.EngineIOConnection``) is one implementation, with two
framings (WebSocket frames, long-polling packets); a plain WebSocket
connection (JSON text frames) is another. ``Message.render`` caches one
rendering per framing, so a broadcast is encoded once per framing, however
many recipients it has.

``OutboxFlusher`` is the one background task that retries outboxes that
hold messages and enforces the age bound; it only ever looks at outboxes
that are behind.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hts_realtime.protocol import strict_json

log = logging.getLogger("hts.outbox")

SLOW_CONSUMER = "slow_consumer"


def dumps(obj: Any) -> str:
    """The JSON every frame uses: compact, UTF-8 (not \\u-escaped), never a bare NaN."""
    return strict_json.dumps(obj)


class Framing(Protocol):
    """How a message becomes what one kind of connection writes."""

    def render(self, msg: Message) -> Any: ...


class Connection(Protocol):
    """What an outbox writes to (see the module docstring)."""

    @property
    def framing(self) -> Framing: ...

    def write(self, frames: list[Any]) -> None:
        """Send these rendered frames now, in order (never blocks)."""

    def writable(self) -> bool:
        """Whether the connection takes more now without buffering past its mark."""

    def disconnect(self, reason: str) -> None:
        """End the connection (``slow_consumer``: the outbox overflowed)."""


class Message:
    """One event and its payload, rendered lazily, at most once per framing.

    ``payload_json`` may be given instead of a payload (the journal stores
    private events as JSON text, so a replay never re-encodes them).
    """

    __slots__ = ("_json", "_r1", "_rn", "event", "payload")

    def __init__(self, event: str, payload: Any = None, *, payload_json: str | None = None):
        self.event = event
        self.payload = payload
        self._json = payload_json
        self._r1: tuple[Framing, Any] | None = None
        self._rn: dict[int, Any] | None = None

    @property
    def payload_json(self) -> str:
        if self._json is None:
            self._json = dumps(self.payload)
        return self._json

    def socketio_text(self) -> str:
        """The Socket.IO EVENT packet for namespace ``/``, without Engine.IO's ``4``."""
        return '2["' + self.event + '",' + self.payload_json + "]"

    @property
    def nbytes(self) -> int:
        """About what this message costs queued, whatever the framing."""
        return len(self.payload_json) + len(self.event) + 16

    def render(self, framing: Framing) -> Any:
        r1 = self._r1
        if r1 is not None:
            if r1[0] is framing:
                return r1[1]
            rn = self._rn
            if rn is None:
                rn = self._rn = {}
            key = id(framing)
            out = rn.get(key)
            if out is None:
                out = rn[key] = framing.render(self)
            return out
        out = framing.render(self)
        self._r1 = (framing, out)
        return out


def websocket_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked (server-to-client), unfragmented WebSocket frame (RFC 6455 §5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big") + payload


Tap = Callable[[Sequence[Message]], None]  # told which messages an outbox wrote


@dataclass(frozen=True)
class OutboxLimits:
    max_bytes: int = 1024 * 1024  # waiting in the outbox (not yet handed to the transport)
    max_age: float = 30.0  # seconds the oldest ordered (never-dropped) message may wait


class _Entry:
    __slots__ = ("key", "msg", "t")

    def __init__(self, msg: Message, key: Hashable | None, t: float) -> None:
        self.msg = msg
        self.key = key
        self.t = t


class Outbox:
    """A connection's bounded, ordered, partly conflated send queue."""

    __slots__ = ("_bytes", "_flusher", "_q", "_slots", "_waiter", "closed", "conn", "limits",
                 "tap")

    def __init__(self, conn: Connection, limits: OutboxLimits, flusher: OutboxFlusher,
                 tap: Tap | None = None) -> None:
        self.conn = conn
        self.limits = limits
        self._flusher = flusher
        self.tap = tap  # told what is written (the Admin UI: edge/admin_tap.py), or None
        self._q: deque[_Entry] | None = None  # None while empty (the common case)
        self._slots: dict[Hashable, _Entry] | None = None
        self._bytes = 0
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    # -- putting messages in ----------------------------------------------------------
    def send(self, msg: Message) -> None:
        """An ordered message: delivered in order or the connection is closed."""
        if self.closed:
            return
        if self._q is None and self.conn.writable():
            self.conn.write([msg.render(self.conn.framing)])
            if self.tap is not None:
                self.tap((msg,))
            return
        self._append(msg, None)

    def offer(self, msg: Message, key: Hashable) -> None:
        """A conflatable message: a waiting one with the same ``key`` is replaced."""
        if self.closed:
            return
        if self._q is None and self.conn.writable():
            self.conn.write([msg.render(self.conn.framing)])
            if self.tap is not None:
                self.tap((msg,))
            return
        if self._slots is not None:
            entry = self._slots.get(key)
            if entry is not None:  # latest wins, in the place of the first
                self._bytes += msg.nbytes - entry.msg.nbytes
                entry.msg = msg
                if self._flusher.on_conflated is not None:
                    self._flusher.on_conflated()
                return
        self._append(msg, key)

    def offer_many(self, items: Iterable[tuple[Message, Hashable]]) -> None:
        """Several conflatable messages, written together (one transport write)."""
        if self.closed:
            return
        if self._q is None and self.conn.writable():
            framing = self.conn.framing
            if self.tap is None:
                self.conn.write([m.render(framing) for m, _ in items])
                return
            written = [m for m, _ in items]
            self.conn.write([m.render(framing) for m in written])
            self.tap(written)
            return
        for msg, key in items:
            self.offer(msg, key)

    def _append(self, msg: Message, key: Hashable | None) -> None:
        if self._q is None:
            self._q = deque()
            self._flusher.watch(self)
        entry = _Entry(msg, key, time.monotonic())
        self._q.append(entry)
        if key is not None:
            if self._slots is None:
                self._slots = {}
            self._slots[key] = entry
        self._bytes += msg.nbytes
        if self._bytes > self.limits.max_bytes:
            self.fail(f"{self._bytes} bytes waiting (limit {self.limits.max_bytes})")

    # -- draining ---------------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return self._q is None

    @property
    def waiting_bytes(self) -> int:
        return self._bytes

    def flush(self) -> bool:
        """Write what the connection takes now; True when nothing is left waiting."""
        q = self._q
        if q is None or self.closed:
            self._wake()
            return True
        conn = self.conn
        framing = conn.framing
        while q and conn.writable():
            batch: list[Any] = []
            msgs: list[Message] | None = [] if self.tap is not None else None
            # hand over a run of messages at once (one transport write)
            for _ in range(min(len(q), 64)):
                entry = q.popleft()
                if entry.key is not None and self._slots is not None:
                    del self._slots[entry.key]
                self._bytes -= entry.msg.nbytes
                batch.append(entry.msg.render(framing))
                if msgs is not None:
                    msgs.append(entry.msg)
            conn.write(batch)
            if msgs is not None and self.tap is not None:
                self.tap(msgs)
        if q:
            return False
        self._q = None
        self._slots = None
        self._bytes = 0
        self._wake()
        return True

    def overdue(self, now: float) -> bool:
        """Whether the oldest ordered message has waited longer than ``max_age``."""
        if self._q is None:
            return False
        for entry in self._q:  # conflated entries are few (one per key)
            if entry.key is None:
                return now - entry.t > self.limits.max_age
        return False

    async def drained(self, within: float) -> bool:
        """Wait until nothing is waiting and the connection takes more (replay pacing).

        False if that did not happen ``within`` seconds or the outbox closed.
        """
        if self.closed:
            return False
        if self._q is None and self.conn.writable():
            return True
        if self._waiter is None or self._waiter.done():
            self._waiter = asyncio.get_running_loop().create_future()
        self._flusher.watch(self)
        try:
            await asyncio.wait_for(asyncio.shield(self._waiter), within)
        except TimeoutError:
            return False
        return not self.closed

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done() and (self.closed or self.conn.writable()):
            w.set_result(None)
            self._waiter = None

    @property
    def waiting(self) -> bool:
        """Someone waits on ``drained``."""
        return self._waiter is not None and not self._waiter.done()

    # -- ending -----------------------------------------------------------------------
    def fail(self, why: str) -> None:
        """Overflow: drop what waits and close the connection as ``slow_consumer``."""
        if self.closed:
            return
        log.warning("outbox slow_consumer: %s", why)
        self._flusher.slow_consumers += 1
        if self._flusher.on_slow_consumer is not None:
            self._flusher.on_slow_consumer()
        self.discard()
        self.conn.disconnect(SLOW_CONSUMER)

    def discard(self) -> None:
        """The connection is gone: nothing more will be written."""
        self.closed = True
        self._q = None
        self._slots = None
        self._bytes = 0
        self._wake()


class OutboxFlusher:
    """Retries outboxes that are behind, and closes those past their age bound."""

    def __init__(self, interval: float = 0.02, *,
                 on_slow_consumer: Callable[[], None] | None = None,
                 on_conflated: Callable[[], None] | None = None) -> None:
        """``on_slow_consumer``: a connection was closed as ``slow_consumer``;
        ``on_conflated``: a waiting message was replaced by a newer one (metrics)."""
        self.interval = interval
        self._behind: set[Outbox] = set()
        self.slow_consumers = 0  # connections closed as slow_consumer (status report)
        self.on_slow_consumer = on_slow_consumer
        self._wake: asyncio.Event | None = None  # set when an outbox falls behind
        self.on_conflated = on_conflated

    def watch(self, outbox: Outbox) -> None:
        self._behind.add(outbox)
        if self._wake is not None:
            self._wake.set()

    @property
    def behind(self) -> int:
        return len(self._behind)

    def sweep(self) -> None:
        now = time.monotonic()
        done: list[Outbox] = []
        for ob in self._behind:
            if ob.closed:
                done.append(ob)
                continue
            if ob.flush():
                if not ob.waiting:
                    done.append(ob)
            elif ob.overdue(now):
                ob.fail(f"oldest message waited over {ob.limits.max_age:g} s")
                done.append(ob)
        for ob in done:
            self._behind.discard(ob)

    async def run(self) -> None:
        self._wake = asyncio.Event()
        while True:
            if not self._behind:  # nobody is behind: sleep until someone is
                self._wake.clear()
                await self._wake.wait()
            await asyncio.sleep(self.interval)
            try:
                self.sweep()
            except Exception:
                log.exception("outbox sweep failed")
