"""The ``Bus`` port: in memory (one process) and Redis pub/sub (a cluster)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from hts_realtime.adapters.memory_bus import MemoryBus
from hts_realtime.adapters.redis_bus import RedisBus
from hts_realtime.adapters.redis_client import redis_client
from hts_realtime.ports import Bus
from tests.cluster import RedisServer

Received = list[tuple[str, bytes]]


@pytest.fixture(params=[pytest.param("memory", marks=pytest.mark.fast), "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        memory = MemoryBus()
        yield memory
        await memory.close()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis: Redis = redis_client(server.url)
    redis_bus = RedisBus(redis)
    task = asyncio.create_task(redis_bus.run())
    try:
        yield redis_bus
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await redis.aclose()


async def arrived(seen: Received, n: int, timeout: float = 5.0) -> Received:
    """Wait until ``n`` messages have arrived (a publish is delivered asynchronously on
    Redis, at once in memory)."""
    for _ in range(int(timeout / 0.005)):
        if len(seen) >= n:
            return seen
        await asyncio.sleep(0.005)
    raise AssertionError(f"waited for {n} messages, got {seen}")


async def test_a_subscriber_gets_what_is_published_after_it_subscribed_in_order(bus: Bus) -> None:
    seen: Received = []
    await bus.publish("md:price:005930", b"before")  # nobody listens: gone (at most once)
    await bus.subscribe("md:price:005930", lambda ch, data: seen.append((ch, data)))
    for i in range(50):
        await bus.publish("md:price:005930", f"m{i}".encode())
    await arrived(seen, 50)
    assert seen == [("md:price:005930", f"m{i}".encode()) for i in range(50)]


async def test_publish_many_keeps_the_order_across_channels(bus: Bus) -> None:
    seen: Received = []
    for ch in ("a", "b"):
        await bus.subscribe(ch, lambda ch, data: seen.append((ch, data)))
    await bus.publish_many([("a", b"1"), ("b", b"2"), ("a", b"3"), ("c", b"nobody")])
    await arrived(seen, 3)
    assert seen == [("a", b"1"), ("b", b"2"), ("a", b"3")]


async def test_each_handler_of_a_channel_gets_it_and_unsubscribe_stops_only_its_own(
        bus: Bus) -> None:
    first: Received = []
    second: Received = []

    def h1(ch: str, data: bytes) -> None:
        first.append((ch, data))

    def h2(ch: str, data: bytes) -> None:
        second.append((ch, data))

    await bus.subscribe("pv:7", h1)
    await bus.subscribe("pv:7", h2)
    assert bus.channels() == 1
    await bus.publish("pv:7", b"x")
    await arrived(first, 1)
    await arrived(second, 1)
    await bus.unsubscribe("pv:7", h1)
    await bus.publish("pv:7", b"y")
    await arrived(second, 2)
    await bus.unsubscribe("pv:7", h2)
    assert bus.channels() == 0
    # an event to wait on, not a sleep: a fresh subscriber on another channel gets its
    # message, and by then h1 would have had "y" (one connection delivers in order)
    marker: Received = []
    await bus.subscribe("marker", lambda ch, data: marker.append((ch, data)))
    await bus.publish("pv:7", b"z")
    await bus.publish("marker", b"m")
    await arrived(marker, 1)
    assert first == [("pv:7", b"x")]
    assert second == [("pv:7", b"x"), ("pv:7", b"y")]


async def test_a_failing_handler_does_not_stop_the_others(bus: Bus) -> None:
    seen: Received = []

    def broken(ch: str, data: bytes) -> None:
        raise RuntimeError("a subscriber's bug")

    await bus.subscribe("md:trade:000660", broken)
    await bus.subscribe("md:trade:000660", lambda ch, data: seen.append((ch, data)))
    await bus.publish("md:trade:000660", b"1")
    await bus.publish("md:trade:000660", b"2")
    await arrived(seen, 2)
    assert [d for _, d in seen] == [b"1", b"2"]
