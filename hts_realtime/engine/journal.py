"""The journal: the durable per-user event stream, and the in-process bus of committed events.

Each ``order_update``, ``strategy_signal`` and ``strategy_status`` of a
user gets the next per-user ``seq`` and is written to the ``events`` table
in the same transaction as the state change it reports (``Journal``, the
source of truth). After commit the events are published on the
``EventBus``; the edge delivers them.

Readers of the stream (resume, gap repair) use the ``EventLog`` port
(``ports.py``): the journal itself in one process
(``adapters.journal_event_log``), a Redis Stream per user on a gateway
(``adapters.redis_event_log``), filled from the journal through the pending
events (``engine.pending_events``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Hashable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hts_realtime.domain.events import JournalRow, PrivateEvent
from hts_realtime.engine.group_commit import Tx
from hts_realtime.storage.store import Store, chunks, placeholders

if TYPE_CHECKING:
    from hts_realtime.engine.pending_events import PendingEvents


Listener = Callable[[PrivateEvent], None]


class EventBus:
    """Synchronous in-process publish/subscribe for committed events."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def publish(self, events: list[PrivateEvent]) -> None:
        for ev in events:
            for listener in self._listeners:
                listener(ev)


class Journal:
    """The durable per-user event stream.

    The last ``seq`` of each user is kept in memory (read from ``user_streams``
    by ``prepare`` before any work of that user is queued; only the leading
    engine writes it), so an append inside a group commit needs no read: it
    stages the next ``seq`` on the ``Tx`` and the committed value moves only
    when that commit returns.
    """

    def __init__(self, store: Store, retention: int,
                 outbox: PendingEvents | None = None) -> None:
        self.store = store
        self.retention = retention
        self.outbox = outbox  # a cluster's engine: every entry also goes to Redis
        self._last: dict[str, int] = {}  # committed last seq per user

    def append(
        self,
        tx: Tx,
        user_id: str,
        event: str,
        topics: tuple[str, ...],
        body: dict[str, Any],
    ) -> PrivateEvent:
        """Append within the caller's transaction; returns the event with its seq."""
        staged = tx.get(self, user_id)
        seq = (self.last_seq(user_id) if staged is Tx.MISSING else int(staged)) + 1
        tx.put(self, user_id, seq)
        payload = {"type": event, "seq": seq, **body}
        tx.execute(
            "INSERT INTO user_streams (user_id, last_seq) VALUES (?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET last_seq = excluded.last_seq",
            (user_id, seq))
        tx.execute(
            "INSERT INTO events (user_id, seq, event, topics, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                user_id,
                seq,
                event,
                json.dumps(topics),
                json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
                datetime.now(UTC).isoformat(),
            ),
        )
        if self.outbox is not None:
            self.outbox.add(tx, user_id, seq)
        if self.retention and seq > self.retention and seq % 64 == 0:
            tx.execute(
                "DELETE FROM events WHERE user_id = ? AND seq <= ?",
                (user_id, seq - self.retention),
            )
        return PrivateEvent(user_id, seq, event, topics, payload)

    def apply_staged(self, key: Hashable, value: Any) -> None:
        self._last[str(key)] = int(value)

    def forget(self) -> None:
        """Drop what memory holds (a new leader reads it again from the database)."""
        self._last.clear()

    async def prepare(self, user_ids: Iterable[str]) -> None:
        """Read the last seq of each of these users not in memory yet (before a work
        that appends to their streams is queued)."""
        missing = sorted({u for u in user_ids if u not in self._last})
        for part in chunks(missing):
            rows = await self.store.fetch(
                f"SELECT user_id, last_seq FROM user_streams WHERE user_id IN "
                f"({placeholders(len(part))})", tuple(part))
            found = {str(r["user_id"]): int(r["last_seq"]) for r in rows}
            for user_id in part:
                # setdefault: a commit that landed while we read is newer than the row
                self._last.setdefault(user_id, found.get(user_id, 0))

    def prepared(self, user_id: str) -> bool:
        return user_id in self._last

    def last_seq(self, user_id: str) -> int:
        """The committed last seq of ``user_id`` (0: none yet); ``prepare`` first."""
        seq = self._last.get(user_id)
        if seq is None:
            raise LookupError(f"the stream of user {user_id!r} was not prepared")
        return seq

    async def head(self, user_id: str) -> int:
        await self.prepare((user_id,))
        return self._last[user_id]

    async def streams(self) -> list[tuple[str, int]]:
        """Every user with a stream, and its last seq."""
        rows = await self.store.fetch("SELECT user_id, last_seq FROM user_streams")
        return [(str(r[0]), int(r[1])) for r in rows]

    async def first_kept_seq(self, user_id: str) -> int | None:
        row = await self.store.fetchrow(
            "SELECT MIN(seq) AS first FROM events WHERE user_id = ?", (user_id,))
        return int(row["first"]) if row is not None and row["first"] is not None else None

    async def read_after(
        self, user_id: str, after: int, upto: int, batch: int = 1000
    ) -> AsyncIterator[PrivateEvent]:
        """Events with after < seq <= upto, in order, read in batches."""
        async for row in self.read_after_json(user_id, after, upto, batch):
            yield PrivateEvent(user_id, row.seq, row.event, row.topics, json.loads(row.payload))

    async def read_after_json(
        self, user_id: str, after: int, upto: int, batch: int = 200
    ) -> AsyncIterator[JournalRow]:
        """Like ``read_after``, with the payload as the stored JSON text (a replay
        sends it as is). Reads ``batch`` rows at a time, so a consumer that pauses
        between rows holds at most one batch."""
        cursor = after
        while cursor < upto:
            rows = await self.store.fetch(
                "SELECT seq, event, topics, payload FROM events "
                "WHERE user_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                (user_id, cursor, upto, batch),
            )
            if not rows:
                return
            for r in rows:
                yield JournalRow(int(r["seq"]), str(r["event"]), tuple(json.loads(r["topics"])),
                                 str(r["payload"]))
            cursor = int(rows[-1]["seq"])
