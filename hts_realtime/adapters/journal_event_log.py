"""``EventLog`` over the engine's journal: one process, or a cluster's engine."""

from __future__ import annotations

from collections.abc import AsyncIterator

from hts_realtime.domain.events import JournalRow
from hts_realtime.engine.journal import Journal


class JournalLog:
    """``EventLog`` over the journal (one process, or the engine)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def head(self, user_id: str) -> int:
        return await self.journal.head(user_id)

    async def first_kept(self, user_id: str) -> int | None:
        return await self.journal.first_kept_seq(user_id)

    async def read_after(
        self, user_id: str, after: int, upto: int
    ) -> AsyncIterator[JournalRow]:
        async for row in self.journal.read_after_json(user_id, after, upto):
            yield row
