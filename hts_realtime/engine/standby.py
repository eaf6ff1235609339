"""A cluster's engine under its lease: it leads, or it waits warm and points at the leader.

Two or more ``--role engine`` processes share one database. Each runs a
``Standby``: its ``Leadership`` (``engine.leadership``) takes the lease when
it is free, and then, only then, the engine rebuilds its memory from the
database (open orders, accounts, strategies, the market where the last
leader left it: ``Engine.lead``) and starts serving. The others keep their
store connected and their committer running, answer every request of the
trading surface with ``503 unavailable``, ``Retry-After: 1`` and
``X-HTS-Leader: <the leader's address>`` (gateways follow it, see
``adapters.remote_engine``), and poll the lease.

Fencing: every group commit carries the lease's epoch (``fence``), checked by
the store inside the transaction, and a standby's committer runs no work at
all. When a commit finds another epoch (a takeover while this engine was
paused), or the database was lost mid-commit (the outcome is unknown, so
memory may no longer match the database), the engine steps down: its
market, streamers, relay and memory go, and it leads again only through a
new takeover, which rebuilds from the database. Until then, and from the
moment its own clock says the lease may have run out, it publishes nothing:
the feed does not step and the publisher drops (``active``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from hts_realtime.engine.build import Engine
from hts_realtime.engine.leadership import Leadership
from hts_realtime.protocol.errors import Unavailable
from hts_realtime.storage.store import Fence, StaleLeader

log = logging.getLogger("hts.standby")

LEADER_HEADER = "X-HTS-Leader"
# what a standby refuses: the trading surface, the gateways' internal routes, clients'
# sockets. Liveness, readiness and metrics stay answered.
GATED = ("/api/", "/internal/", "/socket.io/")
HINT_SECONDS = 0.5  # a standby reads the leader's address at most this often


class Standby:
    def __init__(self, engine: Engine, *, address: str, ttl: float,
                 holder: str | None = None) -> None:
        self.engine = engine
        self.address = address
        self.holder = holder or f"{address}#{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.lease = Leadership(engine.store, self.holder, address, ttl=ttl,
                                on_lead=self._lead, on_step_down=self._step_down)
        self._serving = False
        self._rebuild: asyncio.Task[None] | None = None
        self._hint: tuple[float, str | None] = (0.0, None)
        commits = engine.commits
        commits.fence = self._fence
        commits.on_stale = self.lease.lost
        commits.on_unknown = self._unknown
        engine.feed.active = self.lease.leading
        engine.publisher.active = self.lease.leading

    # -- what the rest of the process asks ---------------------------------------------------
    def serving(self) -> bool:
        """This engine leads and has rebuilt its memory: it may answer trading requests."""
        return self._serving and self.lease.leading()

    def _fence(self) -> Fence:
        fence = self.lease.fence()
        if fence is None:
            raise StaleLeader("this engine does not lead")
        return fence

    async def leader_address(self) -> str | None:
        """The live leader's address (read from the lease, cached briefly), or None while
        no engine holds a live lease (a takeover is under way)."""
        if self.serving():
            return self.address
        at, address = self._hint
        if time.monotonic() - at > HINT_SECONDS:
            try:
                leader = await self.lease.leader()
            except Exception:  # the database is away: no hint now, ask again next time
                return None
            address = leader[1] if leader is not None else None
            self._hint = (time.monotonic(), address)
        return address

    def status(self) -> dict[str, object]:
        """The engine's part of ``GET /api/ws/status``: its leadership."""
        return {"leadership": {"holder": self.holder, "address": self.address,
                               "leading": self.serving(), "epoch": self.lease.epoch,
                               "takeovers": self.lease.takeovers,
                               "step_downs": self.lease.step_downs}}

    async def readiness(self) -> str | None:
        """``/readyz``: a standby is alive but not ready (a balancer sends it nothing)."""
        if self.serving():
            return None
        return f"standby (the leader is {await self.leader_address() or 'being elected'})"

    # -- transitions ------------------------------------------------------------------------
    async def _lead(self, epoch: int) -> None:
        """The lease is ours: rebuild in a task of its own, so the lease's rounds (its
        renewals) go on while a large database is read."""
        self._rebuild = asyncio.create_task(self._rebuild_and_serve(epoch), name="rebuild")

    async def _rebuild_and_serve(self, epoch: int) -> None:
        started = time.monotonic()
        try:
            await self.engine.lead()
        except Exception:
            log.exception("rebuilding from the database failed; stepping down")
            await self.lease.lost("the rebuild failed")
            return
        self._serving = True
        log.info("leading at epoch %d: rebuilt from the database in %.0f ms", epoch,
                 (time.monotonic() - started) * 1000)

    async def _step_down(self, epoch: int) -> None:
        self._serving = False
        rebuild, self._rebuild = self._rebuild, None
        if rebuild is not None and not rebuild.done() and rebuild is not asyncio.current_task():
            rebuild.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rebuild
        await self.engine.step_down()
        log.warning("stepped down from epoch %d: standing by", epoch)

    async def _unknown(self, reason: str) -> None:
        """A commit's outcome is unknown (the database went away mid-commit): memory may
        differ from the database, so lead again only after a rebuild."""
        await self.lease.lost(f"a commit's outcome is unknown ({reason})")

    # -- the process ------------------------------------------------------------------------
    async def lifecycle(self) -> AsyncIterator[None]:
        """For the app's ``cleanup_ctx``: the first round of the lease runs before the
        port opens (an engine that finds the lease free serves from its first request);
        a clean exit finishes the leader's work and releases the lease at once."""
        await self.engine.start()
        await self.lease.step()
        rounds = asyncio.create_task(self._rounds(), name="leadership")
        if self._rebuild is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._rebuild
        yield
        rounds.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await rounds
        rebuild, self._rebuild = self._rebuild, None
        if rebuild is not None and not rebuild.done():
            rebuild.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rebuild
        if self._serving:
            self._serving = False
            await self.engine.step_down(final=True)
        await self.lease.release()
        await self.engine.close()

    async def _rounds(self) -> None:
        while True:
            await asyncio.sleep(self.lease.ttl / 3 if self.lease.epoch is not None
                                else self.lease.ttl / 6)
            try:
                await self.lease.step()
            except Exception:
                log.exception("lease round failed")

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        """A standby answers the trading surface with ``503 unavailable``, ``Retry-After``
        and ``X-HTS-Leader`` (when a leader is known): nothing is decided here."""

        @web.middleware
        async def standby_gate(request: web.Request,
                               handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                               ) -> web.StreamResponse:
            if self.serving() or not request.path.startswith(GATED):
                return await handler(request)
            leader = await self.leader_address()
            headers = {"Retry-After": "1"}
            if leader is not None:
                headers[LEADER_HEADER] = leader
            error = Unavailable("this engine is a standby; "
                                + (f"the leader is {leader}" if leader else
                                   "a leader is being elected") + "; retry")
            return web.json_response({"error": error.to_dict()}, status=503, headers=headers)

        return standby_gate
