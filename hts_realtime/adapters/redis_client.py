"""The process's Redis client (a cluster role), its readiness check, and the bus's
lifetime: the pub/sub reader runs before anyone subscribes and the client closes last."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from hts_realtime.adapters.redis_bus import RedisBus
from hts_realtime.ops.readiness import Check


def redis_client(url: str) -> Redis:
    """One client (a connection pool) per process; commands fail fast in an outage so
    the callers' own retry loops (outbox, bus) decide what happens.

    No ``health_check_interval``: on the pub/sub connection redis-py would send its
    PING and read the answer from whichever task subscribes, while the bus's reader
    task is already reading that connection."""
    client: Redis = Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=5.0,
                                   socket_keepalive=True)
    return client


def redis_check(redis: Redis) -> Check:
    async def check() -> str | None:
        try:
            await redis.ping()
        except Exception as exc:
            return f"redis unreachable: {exc}"
        return None
    return check


async def bus_lifecycle(redis: Redis, bus: RedisBus) -> AsyncIterator[None]:
    task = asyncio.create_task(bus.run(), name="bus")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await redis.aclose()
