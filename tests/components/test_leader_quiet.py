"""A cluster engine moves and publishes the market only while it leads.

``engine.standby`` points the market feed's and the publisher's ``active`` at the
lease's own clock (``Leadership.leading``): a leader woken from a pause past its
lease has, by that clock, lost it before any of its timers fire, so the feed does
not step and whatever the streamers had queued is dropped, not sent to the bus.
(The end-to-end pause is ``tests/test_failover.py``; there the race between the
woken timers is the machine's, so the rule is pinned here.)
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from hts_realtime.adapters.memory_bus import MemoryBus
from hts_realtime.domain.market import KST, MarketSimulator
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.engine.market_feed import MarketFeed
from hts_realtime.engine.market_publisher import MarketPublisher
from hts_realtime.protocol.topics import TopicKind


async def test_the_publisher_sends_nothing_while_not_leading() -> None:
    bus = MemoryBus()
    got: list[bytes] = []
    await bus.subscribe("md:price:005930", lambda channel, data: got.append(data))
    publisher = MarketPublisher(bus)
    leading = False
    publisher.active = lambda: leading
    task = asyncio.create_task(publisher.run())
    send = publisher.sender(TopicKind.PRICE, "price_update")
    send({"005930": {"price": 1}})
    for _ in range(5):
        await asyncio.sleep(0)
    assert got == [] and publisher.dropped == 1
    leading = True
    send({"005930": {"price": 2}})
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(got) == 1 and b'"price":2' in got[0]
    task.cancel()


async def test_the_feed_does_not_step_while_not_leading() -> None:
    sim = MarketSimulator(SymbolMaster(), seed=1, now=datetime(2026, 12, 7, 10, tzinfo=KST))
    stepped: list[int] = []
    moved = asyncio.Event()

    def stage(quotes: list[object]) -> None:
        stepped.append(len(quotes))
        moved.set()

    feed = MarketFeed(sim, 0.001, stages=[stage])
    leading = False
    feed.active = lambda: leading
    task = asyncio.create_task(feed.run())
    await asyncio.sleep(0.05)
    assert stepped == [] and feed.steps == 0
    leading = True
    await asyncio.wait_for(moved.wait(), 10)
    task.cancel()
