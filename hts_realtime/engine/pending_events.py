"""The outbox: journal entries committed by the engine and not yet in Redis.

``Journal.append`` adds a row in the same transaction as the event, so a
committed event is always either in Redis or here. The engine's relay reads
rows oldest first, appends the events to Redis (idempotently) and then
deletes the rows; a crash in between re-sends, which Redis ignores.
"""

from __future__ import annotations

import json

from hts_realtime.domain.events import PrivateEvent
from hts_realtime.engine.group_commit import Tx
from hts_realtime.storage.store import Store


class PendingEvents:
    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def add(tx: Tx, user_id: str, seq: int) -> None:
        """Within the journal's transaction."""
        tx.execute("INSERT INTO outbox (user_id, seq) VALUES (?, ?)", (user_id, seq))

    async def pending(self, limit: int) -> tuple[int, list[PrivateEvent]]:
        """Up to ``limit`` unsent events in commit order, and the last row id read (0: none)."""
        rows = await self.store.fetch(
            "SELECT o.id, o.user_id, o.seq, e.event, e.topics, e.payload FROM outbox o "
            "LEFT JOIN events e ON e.user_id = o.user_id AND e.seq = o.seq "
            "ORDER BY o.id LIMIT ?",
            (limit,),
        )
        events = [
            PrivateEvent(str(r[1]), int(r[2]), str(r[3]), tuple(json.loads(r[4])),
                         json.loads(r[5]))
            for r in rows
            if r[3] is not None  # pruned by retention before it was sent: nothing to send
        ]
        return (int(rows[-1][0]) if rows else 0), events

    async def done(self, upto_id: int) -> None:
        await self.store.execute("DELETE FROM outbox WHERE id <= ?", (upto_id,))

    async def backlog(self) -> int:
        row = await self.store.fetchrow("SELECT COUNT(*) AS n FROM outbox")
        return int(row["n"]) if row is not None else 0
