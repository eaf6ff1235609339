"""Access changes from the engine to this edge's open connections.

The engine's ``AccessWatcher`` sees each logout, password change or disabled
user (its own, and the CLI's on the same database) and publishes the user ids
on the ``access`` channel. Every edge (one process's own, and each cluster
gateway's) re-checks those users' connections with the engine and closes the
ones whose token no longer counts (``auth_revoked``), the same way in every role.

Pub/sub may drop a message while Redis is away, so after the bus reconnects an
edge re-checks every user it has a connection of.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from hts_realtime.ports import ACCESS_CHANNEL, Bus, access_users

log = logging.getLogger("hts.access")


Recheck = Callable[[set[str]], Awaitable[int]]  # returns how many connections it closed


class AccessRelay:
    def __init__(self, bus: Bus, recheck: Recheck,
                 connected_users: Callable[[], set[str]]) -> None:
        self.bus = bus
        self.recheck = recheck
        self.connected_users = connected_users
        self._queue: asyncio.Queue[set[str]] = asyncio.Queue()
        self.closed = 0  # connections closed for lost access

    def status(self) -> dict[str, Any]:
        return {"auth": {"connections_closed_revoked": self.closed}}

    async def listen(self) -> None:
        await self.bus.subscribe(ACCESS_CHANNEL, self._on_message)
        self.bus.on_resubscribed(self._everyone)

    def _on_message(self, channel: str, data: bytes) -> None:
        try:
            self._queue.put_nowait(access_users(data))
        except (ValueError, TypeError):
            log.warning("undecodable access change dropped")

    async def _everyone(self) -> None:
        self._queue.put_nowait(self.connected_users())

    async def run(self) -> None:
        while True:
            users = await self._queue.get()
            try:
                self.closed += await self.recheck(users)
            except Exception:  # the engine unreachable: the next change or reconnect retries
                log.exception("re-checking %d users failed", len(users))
