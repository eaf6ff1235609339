"""The private event stream's vocabulary: an event, a stored journal row, and how an
event travels between processes (a bus message, a stream entry).

The journal that gives each event its per-user ``seq`` is ``engine.journal``; the
``EventLog`` port that reads a stream back is in ``ports``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PrivateEvent:
    user_id: str
    seq: int
    event: str
    topics: tuple[str, ...]
    payload: dict[str, Any]  # the wire payload, including "type" and "seq"


@dataclass(frozen=True, slots=True)
class JournalRow:
    """A journal entry as stored: the payload is its JSON text."""

    seq: int
    event: str
    topics: tuple[str, ...]
    payload: str


def encode_event(ev: PrivateEvent) -> bytes:
    """The event as it travels between processes (bus message, stream entry)."""
    return json.dumps(
        {"u": ev.user_id, "s": ev.seq, "e": ev.event, "t": ev.topics, "p": ev.payload},
        separators=(",", ":"), ensure_ascii=False,
    ).encode()


def decode_event(data: bytes | str) -> PrivateEvent:
    d = json.loads(data)
    return PrivateEvent(str(d["u"]), int(d["s"]), str(d["e"]), tuple(d["t"]), d["p"])


