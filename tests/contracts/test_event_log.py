"""The ``EventLog`` port: one user's private stream read by ``seq``, from the SQLite
journal (one process, the engine) and from Redis Streams (a cluster's gateways).

Each implementation is written its own way (the journal in a transaction; the stream by
the engine's outbox relay); what a reader sees must be the same.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio import Redis

from hts_realtime.adapters.journal_event_log import JournalLog
from hts_realtime.adapters.redis_client import redis_client
from hts_realtime.adapters.redis_event_log import RedisEventLog
from hts_realtime.domain.events import PrivateEvent
from hts_realtime.engine.group_commit import Tx
from hts_realtime.engine.journal import Journal
from hts_realtime.ports import EventLog
from hts_realtime.storage.sqlite import SqliteStore
from tests.cluster import RedisServer

KEEP = 600  # both keep the newest events of a user (journal retention, stream MAXLEN)


@dataclass
class Subject:
    log: EventLog
    append: Callable[[str, int], Awaitable[list[PrivateEvent]]]  # (user, n) -> written


@pytest.fixture(params=[pytest.param("journal", marks=pytest.mark.fast), "redis"])
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    if request.param == "journal":
        db = SqliteStore(str(tmp_path / "journal.db"))
        journal = Journal(db, KEEP)

        async def append_journal(user: str, n: int) -> list[PrivateEvent]:
            await journal.prepare((user,))
            tx = Tx()  # what a group commit does
            events = [journal.append(tx, user, "order_update", ("order:*",),
                                     {"data": {"n": i}}) for i in range(n)]
            await db.commit(tx.writes)
            for (owner, key), value in tx.values.items():
                owner.apply_staged(key, value)
            return events

        yield Subject(JournalLog(journal), append_journal)
        await db.close()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis: Redis = redis_client(server.url)
    await redis.flushall()
    stream = RedisEventLog(redis, KEEP)
    heads: dict[str, int] = {}

    async def append_stream(user: str, n: int) -> list[PrivateEvent]:
        start = heads.get(user, 0)
        events = [PrivateEvent(user, start + i + 1, "order_update", ("order:*",),
                               {"type": "order_update", "seq": start + i + 1, "data": {"n": i}})
                  for i in range(n)]
        await stream.append_many(events)
        heads[user] = start + n
        return events

    yield Subject(stream, append_stream)
    await redis.aclose()


async def read(log: EventLog, user: str, after: int, upto: int) -> list[tuple[int, str, dict]]:
    return [(row.seq, row.event, json.loads(row.payload))
            async for row in log.read_after(user, after, upto)]


async def test_an_empty_stream(subject: Subject) -> None:
    assert await subject.log.head("1") == 0
    assert await subject.log.first_kept("1") is None
    assert await read(subject.log, "1", 0, 10) == []


async def test_the_head_and_a_range_read_back_as_written(subject: Subject) -> None:
    written = await subject.append("1", 5)
    await subject.append("2", 3)  # another user's stream is its own
    assert await subject.log.head("1") == 5 and await subject.log.head("2") == 3
    assert await subject.log.first_kept("1") == 1
    rows = await read(subject.log, "1", 1, 4)
    assert [seq for seq, _, _ in rows] == [2, 3, 4]
    for (seq, event, payload), ev in zip(rows, written[1:4], strict=True):
        assert (seq, event) == (ev.seq, ev.event)
        assert payload["seq"] == seq and payload["type"] == "order_update"
        assert payload["data"] == ev.payload["data"]
    assert await read(subject.log, "1", 5, 5) == []  # nothing after the head
    assert [s for s, _, _ in await read(subject.log, "1", 0, 99)] == [1, 2, 3, 4, 5]


async def test_reads_cross_batches_in_order(subject: Subject) -> None:
    await subject.append("1", KEEP)  # more than one read batch of each (200 and 500 rows)
    rows = await read(subject.log, "1", 0, KEEP)
    assert [seq for seq, _, _ in rows] == list(range(1, KEEP + 1))


async def test_old_events_are_trimmed_and_first_kept_says_where_the_stream_starts(
        subject: Subject) -> None:
    await subject.append("1", 3 * KEEP)
    head = await subject.log.head("1")
    first = await subject.log.first_kept("1")
    assert head == 3 * KEEP
    assert first is not None and 1 < first <= head - KEEP + 1 + 64  # journal trims per 64
    rows = await read(subject.log, "1", 0, head)
    assert [seq for seq, _, _ in rows] == list(range(first, head + 1))  # no gap after first
