"""The ``MarketDemand`` port: which market topics clients hold, across every edge.

In one process it is the session registry; on a cluster's engine it is Redis
(``PUBSUB NUMSUB`` over the ``md:{topic}`` channels each edge subscribes to while
one of its clients holds the topic). One scenario for both: what is held shows,
with a positive count; what every holder released does not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from hts_realtime.adapters.redis_bus import RedisBus
from hts_realtime.adapters.redis_client import redis_client
from hts_realtime.adapters.redis_demand import RedisDemand
from hts_realtime.edge.sessions import Session, SessionRegistry
from hts_realtime.edge.wire_policy import TokenBucket
from hts_realtime.identity.tokens import Identity
from hts_realtime.ports import MarketDemand, market_channel
from hts_realtime.protocol.topics import parse_topic
from tests.cluster import RedisServer

SYMBOLS = ["005930", "000660"]


@dataclass
class World:
    demand: MarketDemand
    hold: Callable[[int, str], Awaitable[None]]  # (edge or client index, topic)
    release: Callable[[int, str], Awaitable[None]]


@pytest.fixture(params=[pytest.param("registry", marks=pytest.mark.fast), "redis"])
async def world(request: pytest.FixtureRequest) -> AsyncIterator[World]:
    if request.param == "registry":
        registry = SessionRegistry()
        sessions = [Session(f"s{i}", Identity("1", "u", (), 0, f"j{i}"), TokenBucket(1.0, 1))
                    for i in range(2)]
        for s in sessions:
            registry.add(s)

        async def hold(i: int, topic: str) -> None:
            registry.subscribe(sessions[i], parse_topic(topic))

        async def release(i: int, topic: str) -> None:
            registry.unsubscribe(sessions[i], parse_topic(topic))

        async def demand() -> dict[str, int]:
            return registry.market_demand()

        yield World(demand, hold, release)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis: Redis = redis_client(server.url)
    edges = [RedisBus(redis_client(server.url)) for _ in range(2)]  # two gateways
    tasks = [asyncio.create_task(edge.run()) for edge in edges]

    def handler(channel: str, data: bytes) -> None:
        pass

    async def hold_edge(i: int, topic: str) -> None:  # as edge.market_relay.want does
        await edges[i].subscribe(market_channel(topic), handler)

    async def release_edge(i: int, topic: str) -> None:
        await edges[i].unsubscribe(market_channel(topic), handler)

    try:
        yield World(RedisDemand(redis, SYMBOLS), hold_edge, release_edge)
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for edge in edges:
            await edge.close()
        await redis.aclose()


async def test_held_topics_show_released_ones_go(world: World) -> None:
    assert await world.demand() == {}
    await world.hold(0, "price:005930")
    await world.hold(0, "orderbook:005930")
    await world.hold(1, "price:005930")
    await world.hold(1, "trade:000660")
    got = await world.demand()
    assert set(got) == {"price:005930", "orderbook:005930", "trade:000660"}
    assert all(n >= 1 for n in got.values())
    assert got["price:005930"] >= got["orderbook:005930"]  # two holders count no less
    await world.release(0, "orderbook:005930")
    await world.release(0, "price:005930")
    assert set(await world.demand()) == {"price:005930", "trade:000660"}
    await world.release(1, "price:005930")
    await world.release(1, "trade:000660")
    assert await world.demand() == {}
