"""Fan-out and the outbox as components: a fake connection, a real journal, no server.

Deterministic and fast: the connection's writability is set by the test, and
the private stream's delivery queue is driven by hand, so the races between a
replay and live events can be staged exactly.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hts_realtime.adapters.journal_event_log import JournalLog
from hts_realtime.domain.events import PrivateEvent
from hts_realtime.edge.fanout import Fanout
from hts_realtime.edge.outbox import Message, Outbox, OutboxFlusher, OutboxLimits, websocket_frame
from hts_realtime.edge.sessions import Session, SessionRegistry
from hts_realtime.edge.wire_policy import TokenBucket
from hts_realtime.engine.group_commit import Tx
from hts_realtime.engine.journal import Journal
from hts_realtime.identity.tokens import Identity
from hts_realtime.ops.metrics import Metrics
from hts_realtime.protocol.topics import Topic, TopicKind
from hts_realtime.storage.sqlite import SqliteStore

USER = "7"
ORDERS = Topic(TopicKind.ORDERS, "*")


class Recorder:
    """Renders a message as ``(event, payload)``."""

    def render(self, msg: Message) -> tuple[str, Any]:
        return msg.event, json.loads(msg.payload_json)


class FakeConnection:
    """A Connection whose writability the test controls; records what was written."""

    def __init__(self) -> None:
        self.framing = Recorder()
        self.open = True
        self.written: list[tuple[str, Any]] = []
        self.writes = 0  # write() calls (transport writes)
        self.closed_with: str | None = None

    def write(self, frames: list[Any]) -> None:
        assert self.closed_with is None, "written after disconnect"
        self.writes += 1
        self.written.extend(frames)

    def writable(self) -> bool:
        return self.open

    def disconnect(self, reason: str) -> None:
        self.closed_with = reason

    def events(self, name: str | None = None) -> list[Any]:
        return [p for e, p in self.written if name is None or e == name]

    def seqs(self) -> list[int]:
        return [p["seq"] for e, p in self.written if e == "order_update"]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    d = SqliteStore(str(tmp_path / "fanout.db"))
    yield d
    await d.close()


def make_fanout(db: SqliteStore, limits: OutboxLimits | None = None) -> Fanout:
    return Fanout(None, SessionRegistry(), JournalLog(Journal(db, 100_000)), Metrics(),
                  limits or OutboxLimits(max_bytes=1 << 20, max_age=5.0), OutboxFlusher())


def journal_of(fanout: Fanout) -> Journal:
    log = fanout.log
    assert isinstance(log, JournalLog)
    return log.journal


async def commit(fanout: Fanout, db: SqliteStore, n: int = 1) -> list[PrivateEvent]:
    """``n`` journaled order_updates for USER (committed, not yet published)."""
    journal = journal_of(fanout)
    await journal.prepare((USER,))
    tx = Tx()
    out = [journal.append(tx, USER, "order_update", ("order:*",),
                          {"data": {"status": "accepted"}}) for _ in range(n)]
    await db.commit(tx.writes)  # what the group commit does
    for (owner, key), value in tx.values.items():
        owner.apply_staged(key, value)
    return out


def session(fanout: Fanout, sid: str = "s1", *, batch: bool = False,
            conn: FakeConnection | None = None) -> tuple[Session, FakeConnection]:
    conn = conn or FakeConnection()
    s = Session(sid, Identity(USER, "u7", (), int(time.time()) + 600, "jti-" + sid),
                TokenBucket(100, 100), batch=batch)
    s.outbox = Outbox(conn, fanout.limits, fanout.flusher)
    fanout.registry.add(s)
    fanout.registry.subscribe(s, ORDERS)
    return s, conn


async def enter_rooms(s: Session) -> None:
    return None


def hello(last_seq: int) -> dict[str, Any]:
    return {"type": "connected", "last_seq": last_seq}


def drain_queue(fanout: Fanout) -> None:
    """Run the private-stream delivery loop over what is queued (``run_private``'s body)."""
    while not fanout._private.empty():
        ev, _ = fanout._private.get_nowait()
        fanout.deliver(ev)


# -- the replay / live merge ------------------------------------------------------------
async def test_an_event_committed_before_the_head_and_still_queued_is_sent_once(
        db: SqliteStore) -> None:
    fanout = make_fanout(db)
    evs = await commit(fanout, db, 5)
    for ev in evs[:4]:
        fanout.publish(ev)
    drain_queue(fanout)  # seq 1-4 delivered to nobody (no session yet)
    fanout.publish(evs[4])  # seq 5: committed, still in the delivery queue...
    s, conn = session(fanout)
    # ...when a client resuming from 3 opens: the head it reads is 5, the replay sends 4, 5
    await fanout.open_session(s, 3, hello, enter_rooms)
    assert s.live and conn.seqs() == [4, 5]
    drain_queue(fanout)  # now the queue delivers seq 5 again: it must not go out twice
    (later,) = await commit(fanout, db)
    fanout.publish(later)
    drain_queue(fanout)
    assert conn.seqs() == [4, 5, 6]
    assert conn.events()[0] == hello(5)


async def test_events_published_during_the_replay_follow_it_in_order(db: SqliteStore) -> None:
    fanout = make_fanout(db)
    *_, third = await commit(fanout, db, 3)
    fanout.publish(third)  # committed before the head is read, still queued
    s, conn = session(fanout)

    async def publish_while_replaying(sess: Session) -> None:
        # after `connected`, before the replay: the queue hands seq 3 to the session (not
        # live yet: it waits in `pending`, and the replay sends it too), and events
        # committed after the head was read (4, 5) wait in `pending` as well
        for ev in await commit(fanout, db, 2):
            fanout.publish(ev)
        drain_queue(fanout)
        assert [ev.seq for ev in sess.pending] == [3, 4, 5]

    await fanout.open_session(s, 0, hello, publish_while_replaying)
    assert conn.seqs() == [1, 2, 3, 4, 5]


async def test_a_resume_from_the_head_replays_nothing_and_goes_live(db: SqliteStore) -> None:
    fanout = make_fanout(db)
    await commit(fanout, db, 2)
    s, conn = session(fanout)
    await fanout.open_session(s, 2, hello, enter_rooms)
    (ev,) = await commit(fanout, db)
    fanout.publish(ev)
    drain_queue(fanout)
    assert conn.seqs() == [3]


async def test_a_resume_past_the_head_gets_resync_required(db: SqliteStore) -> None:
    fanout = make_fanout(db)
    await commit(fanout, db, 2)
    s, conn = session(fanout)
    await fanout.open_session(s, 9, hello, enter_rooms)
    assert conn.events("resync_required") == [
        {"type": "resync_required", "code": "resync_required", "last_seq": 2}]
    assert s.live and conn.seqs() == []


# -- replay pacing ----------------------------------------------------------------------
async def test_a_replay_waits_for_the_client_to_drain(db: SqliteStore) -> None:
    fanout = make_fanout(db)
    await commit(fanout, db, 50)
    s, conn = session(fanout)
    conn.open = False  # the client does not read: the transport is full
    task = asyncio.create_task(fanout.open_session(s, 0, hello, enter_rooms))
    for _ in range(20):
        await asyncio.sleep(0)
    # one message may wait in the outbox; the replay does not read ahead of the client
    assert conn.seqs() == [] and s.outbox is not None
    assert s.outbox.waiting_bytes < 500 and not s.live
    conn.open = True
    while not task.done():
        fanout.flusher.sweep()  # what the flusher task does every 20 ms
        await asyncio.sleep(0)
    assert conn.seqs() == list(range(1, 51)) and s.live


async def test_a_replay_the_client_never_drains_ends_as_slow_consumer(db: SqliteStore) -> None:
    fanout = make_fanout(db, OutboxLimits(max_bytes=1 << 20, max_age=0.05))
    await commit(fanout, db, 50)
    s, conn = session(fanout)
    conn.open = False
    await asyncio.wait_for(fanout.open_session(s, 0, hello, enter_rooms), 5)
    assert conn.closed_with == "slow_consumer" and not s.live


# -- the outbox ---------------------------------------------------------------------------
def price(symbol: str, p: int) -> Message:
    return Message("price_update", {"type": "price_update", "symbol": symbol,
                                    "data": {"price": p}})


async def test_prices_are_conflated_per_symbol_while_the_client_is_behind() -> None:
    conn = FakeConnection()
    flusher = OutboxFlusher()
    replaced: list[None] = []
    flusher.on_conflated = lambda: replaced.append(None)  # the metrics counter's hook
    ob = Outbox(conn, OutboxLimits(), flusher)
    conn.open = False
    for p in (100, 101, 102):
        ob.offer(price("005930", p), ("price_update", "price:005930"))
        ob.offer(price("000660", p + 1000), ("price_update", "price:000660"))
    ob.send(Message("order_update", {"seq": 1}))
    ob.offer(price("005930", 103), ("price_update", "price:005930"))
    assert conn.written == []
    conn.open = True
    assert ob.flush()
    # the latest quote per symbol, in the place of the first; the private event kept
    assert conn.written == [
        ("price_update", {"type": "price_update", "symbol": "005930", "data": {"price": 103}}),
        ("price_update", {"type": "price_update", "symbol": "000660", "data": {"price": 1102}}),
        ("order_update", {"seq": 1}),
    ]
    assert len(replaced) == 5  # 101, 1101, 102, 1102 and 103 each replaced a waiting quote


async def test_ordered_messages_are_never_dropped_or_reordered() -> None:
    conn = FakeConnection()
    ob = Outbox(conn, OutboxLimits(), OutboxFlusher())
    ob.send(Message("order_update", {"seq": 1}))
    conn.open = False
    for seq in range(2, 200):
        ob.send(Message("order_update", {"seq": seq}))
    conn.open = True
    ob.send(Message("order_update", {"seq": 200}))  # behind the waiting ones, not before
    ob.flush()
    assert conn.seqs() == list(range(1, 201))


async def test_past_the_byte_bound_the_connection_is_closed_as_slow_consumer() -> None:
    conn = FakeConnection()
    flusher = OutboxFlusher()
    ob = Outbox(conn, OutboxLimits(max_bytes=2000, max_age=60), flusher)
    conn.open = False
    for p in range(1000):  # conflated: the bound is not reached by prices
        ob.offer(price("005930", p), ("price_update", "price:005930"))
    assert conn.closed_with is None
    for seq in range(100):
        ob.send(Message("order_update", {"seq": seq, "data": "x" * 50}))
    assert conn.closed_with == "slow_consumer" and ob.closed
    assert flusher.slow_consumers == 1
    ob.send(Message("order_update", {"seq": 999}))  # after the close: goes nowhere
    assert conn.written == []


async def test_past_the_age_bound_the_flusher_closes_the_connection() -> None:
    conn, calm = FakeConnection(), FakeConnection()
    flusher = OutboxFlusher()
    limits = OutboxLimits(max_bytes=1 << 20, max_age=0.05)
    stuck, ok = Outbox(conn, limits, flusher), Outbox(calm, limits, flusher)
    conn.open = calm.open = False
    stuck.send(Message("order_update", {"seq": 1}))
    ok.send(Message("order_update", {"seq": 1}))
    calm.open = True  # this one drains in time
    await asyncio.sleep(0.1)
    flusher.sweep()
    assert conn.closed_with == "slow_consumer" and calm.closed_with is None
    assert calm.seqs() == [1] and flusher.behind == 0


async def test_a_tick_is_one_transport_write_per_client() -> None:
    conn = FakeConnection()
    ob = Outbox(conn, OutboxLimits(), OutboxFlusher())
    ob.offer_many([(price(s, 1), ("price_update", s)) for s in ("A", "B", "C")])
    assert conn.writes == 1 and len(conn.written) == 3


# -- batching -------------------------------------------------------------------------------
async def test_a_batching_client_gets_one_price_batch_per_tick(db: SqliteStore) -> None:
    fanout = make_fanout(db)
    single, conn1 = session(fanout, "s1")
    batched, conn2 = session(fanout, "s2", batch=True)
    for s in (single, batched):
        for sym in ("005930", "000660"):
            fanout.registry.subscribe(s, Topic(TopicKind.PRICE, sym))
            await fanout.join(s, f"price:{sym}")
    updates = {sym: {"type": "price_update", "symbol": sym, "data": {"price": i}}
               for i, sym in enumerate(("000660", "005930", "035420"))}
    fanout.prices(updates)
    assert conn1.events("price_update") == [updates["005930"], updates["000660"]]
    assert conn2.written == [("price_batch", {
        "type": "price_batch", "updates": [updates["005930"], updates["000660"]]})]
    assert conn1.writes == 1 and conn2.writes == 1


def test_websocket_frames_have_the_rfc6455_header() -> None:
    assert websocket_frame(b"42[]") == b"\x81\x0442[]"
    mid = websocket_frame(b"x" * 200)
    assert mid[:4] == b"\x81\x7e\x00\xc8" and len(mid) == 204
    big = websocket_frame(b"x" * 70000)
    assert big[:2] == b"\x81\x7f" and int.from_bytes(big[2:10], "big") == 70000
