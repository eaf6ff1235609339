"""Who is in the cluster: each gateway reports itself to a Redis hash.

Every ``interval`` a gateway writes its session summary (connections,
users, subscriptions, send counters) under its id in ``hts:gateways``; any
gateway's ``GET /api/ws/status`` merges the fresh entries (younger than
three intervals) into one cluster view. A gateway that died drops out
within three intervals; one that stops cleanly removes itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("hts.directory")

GATEWAYS_KEY = "hts:gateways"


class GatewayDirectory:
    def __init__(self, redis: Redis, gateway_id: str, interval: float,
                 report: Callable[[], dict[str, Any]]) -> None:
        self.redis = redis
        self.gateway_id = gateway_id
        self.interval = interval
        self.report = report

    async def lifecycle(self) -> AsyncIterator[None]:
        """Report every ``interval`` while the gateway runs; leave the directory on exit."""
        task = asyncio.create_task(self.run(), name="gateway-directory")
        log.info("gateway %s started", self.gateway_id)
        yield
        await self.leave()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def run(self) -> None:
        while True:
            try:
                await self.publish()
            except (RedisError, OSError) as exc:
                log.debug("gateway report failed: %s", exc)
            await asyncio.sleep(self.interval)

    async def publish(self) -> None:
        entry = {**self.report(), "id": self.gateway_id, "reported_at": time.time()}
        await self.redis.hset(GATEWAYS_KEY, self.gateway_id, json.dumps(entry))

    async def leave(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.redis.hdel(GATEWAYS_KEY, self.gateway_id)

    async def gateways(self) -> list[dict[str, Any]]:
        """Fresh reports of every gateway, this one's first."""
        await self.publish()
        raw = await self.redis.hgetall(GATEWAYS_KEY)
        now = time.time()
        entries = [json.loads(v) for v in raw.values()]
        fresh = [e for e in entries if now - float(e["reported_at"]) < 3 * self.interval]
        fresh.sort(key=lambda e: (e["id"] != self.gateway_id, e["id"]))
        return fresh


def merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One status from many gateways' ``SessionRegistry.status()`` reports."""
    users: set[str] = set()
    subs: dict[str, set[str]] = defaultdict(set)
    sent = {"broadcast": 0, "private": 0}
    by_transport: dict[str, int] = defaultdict(int)
    for r in reports:
        for transport, n in r.get("connections_by_transport", {}).items():
            by_transport[transport] += int(n)
        users.update(r["active_users"])
        for topic, subscribers in r["subscriptions"].items():
            subs[topic].update(subscribers)
        for k in sent:
            sent[k] += int(r.get("sent", {}).get(k, 0))
    return {
        "active_connections": sum(int(r["active_connections"]) for r in reports),
        "connections_by_transport": dict(by_transport),
        "active_users": sorted(users, key=_id_key),
        "subscriptions": {t: sorted(u, key=_id_key) for t, u in sorted(subs.items())},
        "sent": sent,
    }


def _id_key(user_id: str) -> tuple[int, str]:
    return (int(user_id), "") if user_id.isdigit() else (1 << 62, user_id)
