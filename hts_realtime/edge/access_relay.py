"""Access changes from the engine to every gateway's open connections.

The engine's ``AccessWatcher`` sees each logout, password change or
disabled user (its own, and the CLI's on the same database) and re-checks
its own connections. In a cluster it also publishes the user ids on the
``access`` channel; each gateway re-checks those users' connections with the
engine and closes the ones whose token no longer counts (``auth_revoked``),
as one process does.

Pub/sub may drop a message while Redis is away, so after the bus reconnects
a gateway re-checks every user it has a connection of.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from hts_realtime.ports import ACCESS_CHANNEL, Bus

log = logging.getLogger("hts.access")


Recheck = Callable[[set[str]], Awaitable[int]]  # returns how many connections it closed


class AccessRelay:
    def __init__(self, bus: Bus, recheck: Recheck, connected_users: Callable[[], set[str]]):
        self.bus = bus
        self.recheck = recheck
        self.connected_users = connected_users
        self._queue: asyncio.Queue[set[str]] = asyncio.Queue()

    # -- the engine's side -------------------------------------------------------------
    def publisher(self) -> Recheck:
        """Wraps the engine's own re-check: re-check here, then tell the gateways."""
        async def on_change(users: set[str]) -> int:
            closed = await self.recheck(users)
            try:
                await self.bus.publish(ACCESS_CHANNEL, json.dumps(sorted(users)).encode())
            except Exception:  # the gateways re-check everyone when their bus is back
                log.warning("publishing %d access changes failed", len(users), exc_info=True)
            return closed
        return on_change

    # -- a gateway's side --------------------------------------------------------------
    async def listen(self) -> None:
        await self.bus.subscribe(ACCESS_CHANNEL, self._on_message)
        self.bus.on_resubscribed(self._everyone)

    def _on_message(self, channel: str, data: bytes) -> None:
        try:
            self._queue.put_nowait({str(u) for u in json.loads(data)})
        except (ValueError, TypeError):
            log.warning("undecodable access change dropped")

    async def _everyone(self) -> None:
        self._queue.put_nowait(self.connected_users())

    async def run(self) -> None:
        await self.listen()
        while True:
            users = await self._queue.get()
            try:
                await self.recheck(users)
            except Exception:  # the engine unreachable: the next change or reconnect retries
                log.exception("re-checking %d users failed", len(users))
