"""Which engine leads: a lease in the database, with fencing.

Every engine of a cluster runs ``Leadership.run``. One holds the ``leases``
row (``name``, ``holder``, ``epoch``, ``expires_at`` in the database's own
clock); it renews it every ``ttl / 3``. The others poll every ``ttl / 6`` and
take the row once ``expires_at`` has passed, in one conditional statement
that also adds one to ``epoch``. Every write transaction of the leader
carries ``Leadership.fence()`` and the store checks that epoch inside the
transaction (``storage.store.Fence``): a leader that was paused past its
lease (GC, SIGSTOP, a partition) and wakes up after a takeover cannot write,
whatever it believes.

The leader also keeps its own deadline, on its monotonic clock, measured
from *before* each renewal was sent (so it always ends before the
database's ``expires_at``): ``leading()`` turns False when that passes,
without asking anything, so an engine that wakes from a pause stops
answering and publishing at once, then steps down (``on_step_down``) and
goes back to waiting.

A clean shutdown releases the lease (``expires_at = 0``) so a standby takes
over at its next poll instead of waiting for the lease to run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from hts_realtime.storage.store import Fence, Store, StoreUnavailable

log = logging.getLogger("hts.leadership")

LEASE = "engine"
Hook = Callable[[int], Awaitable[None]]


class Leadership:
    def __init__(self, store: Store, holder: str, address: str, *, ttl: float = 3.0,
                 on_lead: Hook, on_step_down: Hook, name: str = LEASE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.holder = holder
        self.address = address
        self.ttl = ttl
        self.name = name
        self.on_lead = on_lead
        self.on_step_down = on_step_down
        self.clock = clock
        self.epoch: int | None = None
        self._deadline = 0.0  # local clock: our lease surely holds until then
        self._stop = asyncio.Event()
        self.takeovers = 0
        self.step_downs = 0

    # -- what the rest of the engine asks ------------------------------------------------
    def leading(self) -> bool:
        return self.epoch is not None and self.clock() < self._deadline

    def fence(self) -> Fence | None:
        """The fence for a write transaction; None when this engine does not lead."""
        return Fence(self.name, self.epoch) if self.leading() and self.epoch else None

    async def leader(self) -> tuple[str, str, int] | None:
        """(holder, address, epoch) of the live lease, or None (for standbys' answers)."""
        row = await self.store.fetchrow(
            f"SELECT holder, address, epoch FROM leases WHERE name = ? "
            f"AND expires_at > {self.store.now_ms}", (self.name,))
        return None if row is None else (str(row["holder"]), str(row["address"]),
                                         int(row["epoch"]))

    # -- the loop ------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            while not self._stop.is_set():
                wait = await self.step()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), wait)
        finally:
            await self._release()

    async def step(self) -> float:
        """One round: take the lease if free, or renew ours. Returns the seconds until
        the next round."""
        if self.epoch is None:
            await self._try_take()
            return self.ttl / 3 if self.epoch is not None else self.ttl / 6
        await self._renew()
        return self.ttl / 3

    def stop(self) -> None:
        self._stop.set()

    async def lost(self, reason: str) -> None:
        """A write found another epoch (or the deadline passed): step down now."""
        if self.epoch is None:
            return
        epoch, self.epoch = self.epoch, None
        self.step_downs += 1
        log.warning("leadership lost (epoch %d): %s; stepping down", epoch, reason)
        await self.on_step_down(epoch)

    async def _try_take(self) -> None:
        sent = self.clock()
        ttl_ms = int(self.ttl * 1000)
        now = self.store.now_ms
        try:
            row = await self.store.write_returning(
                "INSERT INTO leases (name, holder, address, epoch, expires_at) "
                f"VALUES (?, ?, ?, 1, {now} + ?) ON CONFLICT (name) DO UPDATE SET "
                "holder = excluded.holder, address = excluded.address, "
                "epoch = leases.epoch + 1, expires_at = excluded.expires_at "
                # a lease that ran out, or our own (this process stepped down and leads
                # again after a rebuild: a new epoch fences off its older writes)
                f"WHERE leases.expires_at < {now} OR leases.holder = excluded.holder "
                "RETURNING epoch",
                (self.name, self.holder, self.address, ttl_ms))
        except StoreUnavailable as exc:
            log.warning("lease: database unreachable: %s", exc)
            return
        if row is None:
            return  # someone else holds a live lease
        self.epoch, self._deadline = int(row["epoch"]), sent + self.ttl
        self.takeovers += 1
        log.info("leading as %s (epoch %d)", self.holder, self.epoch)
        try:
            await self.on_lead(self.epoch)
        except Exception:
            log.exception("taking over failed; stepping down")
            await self.lost("on_lead failed")

    async def _renew(self) -> None:
        assert self.epoch is not None
        if not self.leading():
            await self.lost("the lease ran out before it was renewed (paused?)")
            return
        sent = self.clock()
        try:
            renewed = await self.store.execute(
                f"UPDATE leases SET expires_at = {self.store.now_ms} + ? "
                "WHERE name = ? AND holder = ? AND epoch = ?",
                (int(self.ttl * 1000), self.name, self.holder, self.epoch))
        except StoreUnavailable as exc:
            log.warning("lease: renewal failed: %s", exc)
            if not self.leading():
                await self.lost("the database was unreachable for the whole lease")
            return
        if renewed != 1:
            await self.lost("another engine holds the lease")
        elif self.epoch is not None:
            self._deadline = sent + self.ttl

    async def release(self) -> None:
        """Give the lease up now (clean shutdown): a standby takes over at its next poll."""
        await self._release()

    async def _release(self) -> None:
        if self.epoch is None:
            return
        epoch, self.epoch = self.epoch, None
        try:
            await self.store.execute(
                "UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ? AND epoch = ?",
                (self.name, self.holder, epoch))
            log.info("lease released (epoch %d)", epoch)
        except Exception as exc:  # the lease runs out by itself
            log.warning("lease: release failed: %s", exc)
