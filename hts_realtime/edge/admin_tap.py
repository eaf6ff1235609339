"""What the Socket.IO Admin UI is told about the edge's own send path.

Fan-out writes into each connection's outbox, not through python-socketio's
``emit``, so the Admin UI's instrumentation (which wraps ``emit``) never sees
market data, private events or replies. With ``HTS_ADMIN_UI`` on, each
Socket.IO connection's outbox reports what it writes here, and fan-out
reports the rooms a session enters and leaves; ``edge/socketio/admin.py``
drains this and tells the admins. Framing-neutral and library-free.

Bounded two ways, so a busy server never pays much for an admin watching:
a token bucket (``HTS_ADMIN_UI_EVENTS_PER_SECOND``; what is over it is
counted as ``dropped``, not queued) and a queue of at most ``capacity``
items. Nothing is recorded while no admin is connected (``watching``).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hts_realtime.edge.outbox import Message
from hts_realtime.edge.wire_policy import TokenBucket


@dataclass(frozen=True)
class Tapped:
    """One thing the Admin UI is told: an event sent, or a room entered or left."""

    kind: str  # "sent" | "joined" | "left"
    sid: str  # "sent": the Engine.IO session; rooms: the Socket.IO sid
    what: str  # the event's name, or the room
    payload_json: str | None  # "sent": the event's payload as JSON
    at: float  # wall-clock time


class AdminTap:
    def __init__(self, per_second: float, capacity: int = 1000) -> None:
        self._bucket = TokenBucket(rate=per_second, burst=max(1, int(per_second)))
        self._items: deque[Tapped] = deque(maxlen=capacity)
        self.watching = False  # an admin is connected (set by the Admin UI)
        self.tapped = 0
        self.dropped = 0

    def status(self) -> dict[str, Any]:
        return {"watching": self.watching, "tapped": self.tapped, "dropped": self.dropped}

    def take(self) -> bool:
        """One more thing may be shown (within the rate), or it is counted as dropped."""
        if self._bucket.take():
            self.tapped += 1
            return True
        self.dropped += 1
        return False

    def sent(self, eio_sid: str, msgs: Sequence[Message]) -> None:
        """An outbox wrote ``msgs`` to the Engine.IO session ``eio_sid``."""
        if not self.watching:
            return
        now = time.time()
        for msg in msgs:
            # the libraries' own packets (CONNECT, ACK, PING...) carry no event name:
            # python-socketio's instrumentation reports what it sends itself
            if msg.event and self.take():
                self._items.append(Tapped("sent", eio_sid, msg.event, msg.payload_json, now))

    def joined(self, sid: str, room: str) -> None:
        if self.watching and self.take():
            self._items.append(Tapped("joined", sid, room, None, time.time()))

    def left(self, sid: str, room: str) -> None:
        if self.watching and self.take():
            self._items.append(Tapped("left", sid, room, None, time.time()))

    def drain(self) -> list[Tapped]:
        items = list(self._items)
        self._items.clear()
        return items
