"""Closes open sockets that lost access, within ``interval`` of the change.

Access changes (logout, logout everywhere, password change, disable, a
deleted user) may be made by this process or by another one on the same
database (``hts-realtime user disable``). Either way they land in the
revocation store's change feed; this loop reads the feed every ``interval``
seconds (one indexed query), or at once when ``poke``d by this process, and
``announce``s the affected user ids on the bus, where every edge (this
process's, and each gateway's) re-checks those users' open connections
(``edge.access_relay``). Old revocations are purged every ``PURGE_EVERY_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from hts_realtime.ports import RevocationStore

log = logging.getLogger("hts.access")

PURGE_EVERY_SECONDS = 600.0


class AccessWatcher:
    def __init__(self, revocations: RevocationStore,
                 announce: Callable[[set[str]], Awaitable[None]], interval: float,
                 purges: Sequence[Callable[[int], Awaitable[int]]] = ()) -> None:
        self.revocations = revocations
        self.purges = list(purges)  # other expired credentials (refresh tokens), same rhythm
        self.announce = announce
        self.interval = interval
        self._poked = asyncio.Event()
        self.cursor: int | None = None

    def poke(self) -> None:
        """Look for changes now (this process just made one)."""
        self._poked.set()

    async def run(self) -> None:
        with contextlib.suppress(Exception):  # unreachable: check_now starts the cursor
            self.cursor = await self.revocations.head()
        next_purge = time.monotonic() + PURGE_EVERY_SECONDS
        failures = 0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), self.interval)
            self._poked.clear()
            try:
                await self.check_now()
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + PURGE_EVERY_SECONDS
                    purged = await self.revocations.purge(int(time.time()))
                    for purge in self.purges:
                        purged += await purge(int(time.time()))
                    if purged:
                        log.info("purged %d expired token revocations and refresh tokens",
                                 purged)
                failures = 0
            except Exception as exc:  # the database may be away; try again next interval
                failures += 1
                if failures == 1 or failures % 100 == 0:  # a bounded log while it is away
                    log.warning("checking access changes failed (%d in a row): %r",
                                failures, exc)

    async def check_now(self) -> None:
        if self.cursor is None:
            self.cursor = await self.revocations.head()
            return
        while True:
            cursor, users = await self.revocations.changes_after(self.cursor)
            if not users:
                return
            await self.announce(users)
            self.cursor = cursor  # only once announced: a failure retries these users
