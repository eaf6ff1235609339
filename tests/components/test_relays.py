"""The cluster's relays as components: a memory bus, an in-memory event log, a
recording fan-out, no server and no Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, cast

from hts_realtime.adapters.memory_bus import MemoryBus
from hts_realtime.domain.events import JournalRow, PrivateEvent, encode_event
from hts_realtime.edge.fanout import Fanout
from hts_realtime.edge.market_relay import MarketRelay
from hts_realtime.edge.private_relay import PrivateRelay
from hts_realtime.edge.sessions import Session, SessionRegistry
from hts_realtime.edge.wire_policy import TokenBucket
from hts_realtime.engine.market_publisher import market_message
from hts_realtime.identity.tokens import Identity
from hts_realtime.ports import market_channel, private_channel
from hts_realtime.protocol.topics import parse_topic

USER = "7"


class Log:
    """An EventLog held in a list: what the Redis stream would hold."""

    def __init__(self) -> None:
        self.events: list[PrivateEvent] = []
        self.trimmed = 0  # events 1..trimmed are gone, as MAXLEN trims a Redis stream

    def add(self, n: int) -> list[PrivateEvent]:
        new = [PrivateEvent(USER, len(self.events) + i + 1, "order_update", ("order:*",),
                            {"type": "order_update", "seq": len(self.events) + i + 1})
               for i in range(n)]
        self.events.extend(new)
        return new

    async def head(self, user_id: str) -> int:
        return len(self.events)

    async def first_kept(self, user_id: str) -> int | None:
        return self.trimmed + 1 if len(self.events) > self.trimmed else None

    async def read_after(self, user_id: str, after: int, upto: int) -> AsyncIterator[JournalRow]:
        for ev in self.events[max(after, self.trimmed):upto]:
            yield JournalRow(ev.seq, ev.event, ev.topics, json.dumps(ev.payload))


class Recorder:
    """Stands in for Fanout: records what the relays hand it."""

    def __init__(self) -> None:
        self.private: list[int] = []
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.ticks: list[dict[str, Any]] = []
        self.broadcasts: list[tuple[str, str]] = []

    def publish(self, ev: PrivateEvent) -> None:
        self.private.append(ev.seq)

    def send(self, sid: str, event: str, payload: dict[str, Any]) -> None:
        self.sent.append((sid, event, payload))

    def prices(self, updates: dict[str, dict[str, Any]]) -> None:
        self.ticks.append(dict(updates))

    def broadcast(self, event: str, payload: dict[str, Any], room: str) -> None:
        self.broadcasts.append((event, room))


async def settle(relay_task: asyncio.Task[None]) -> None:
    """Let the relay task take what is queued."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_private_relay_drops_duplicates_and_repairs_gaps_in_order() -> None:
    bus, log, out = MemoryBus(), Log(), Recorder()
    log.add(3)  # before the user's first session here: the head covers these
    relay = PrivateRelay(bus, log, cast(Fanout, out), SessionRegistry())
    task = asyncio.create_task(relay.run())
    try:
        await relay.attach(USER)
        channel = private_channel(USER)
        (four,) = log.add(1)
        await bus.publish(channel, encode_event(four))
        await bus.publish(channel, encode_event(four))  # a re-send: dropped
        five, _six, seven = log.add(3)
        await bus.publish(channel, encode_event(seven))  # 5 and 6 were lost on the way
        await bus.publish(channel, encode_event(five))  # late: already passed on
        await settle(task)
        assert out.private == [4, 5, 6, 7]
        assert relay.duplicates == 2 and relay.gaps_repaired == 2
    finally:
        task.cancel()


async def test_private_relay_reads_what_it_missed_after_a_resubscribe() -> None:
    bus, log, out = MemoryBus(), Log(), Recorder()
    relay = PrivateRelay(bus, log, cast(Fanout, out), SessionRegistry())
    task = asyncio.create_task(relay.run())
    try:
        await relay.attach(USER)
        log.add(2)  # published while the bus was away: nothing arrived
        await relay._resubscribed()  # what the bus runs once it is back
        await settle(task)
        assert out.private == [1, 2]
        await relay.detach(USER)  # no session of the user here: the channel goes
        assert bus.channels() == 0
    finally:
        task.cancel()


async def test_market_relay_hands_one_tick_to_the_fanout_and_drops_unwatched_channels() -> None:
    bus, out = MemoryBus(), Recorder()
    relay = MarketRelay(bus, cast(Fanout, out), SessionRegistry())
    task = asyncio.create_task(relay.run())
    try:
        a, b = parse_topic("price:005930"), parse_topic("price:000660")
        book = parse_topic("orderbook:005930")
        for t in (a, b, book):
            await relay.want(t)
        await bus.publish_many([
            (market_channel(t.name), market_message(event, {"symbol": t.key}))
            for t, event in ((a, "price_update"), (b, "price_update"),
                             (book, "orderbook_update"))])
        await bus.publish(market_channel("price:035720"), market_message("price_update", {}))
        await settle(task)
        assert out.ticks == [{"005930": {"symbol": "005930"}, "000660": {"symbol": "000660"}}]
        assert out.broadcasts == [("orderbook_update", "orderbook:005930")]
        for t in (a, b, book):  # nobody in the registry wants them: each channel goes
            await relay.release(t)
        assert bus.channels() == 0 and relay.topics == 0
    finally:
        task.cancel()


async def test_private_relay_says_resync_required_when_the_gap_was_trimmed() -> None:
    bus, log, out = MemoryBus(), Log(), Recorder()
    registry = SessionRegistry()
    relay = PrivateRelay(bus, log, cast(Fanout, out), registry)
    task = asyncio.create_task(relay.run())
    try:
        await relay.attach(USER)
        registry.add(Session("s1", Identity(USER, "u", (), 0, "jti"), TokenBucket(1.0, 1)))
        log.add(5)
        log.trimmed = 3  # 1..3 are gone from the stream before the gateway looked
        await relay._resubscribed()
        await settle(task)
        assert out.sent == [("s1", "resync_required", {
            "type": "resync_required", "code": "resync_required", "last_seq": 3})]
        assert out.private == [4, 5] and relay.lost == 3
    finally:
        task.cancel()
