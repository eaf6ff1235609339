"""The engine's lease and its fencing, on SQLite and on a real PostgreSQL server.

Two ``Leadership`` objects on one store play two engines. A "paused" leader
is one whose rounds stop running (what SIGSTOP does to its loop); the
process-level faults (kill -9, SIGSTOP/SIGCONT of a real engine) are in
the cluster tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hts_realtime.engine.leadership import Leadership
from hts_realtime.storage.postgres import PostgresStore
from hts_realtime.storage.sqlite import SqliteStore
from hts_realtime.storage.store import StaleLeader, Store
from tests.postgres import PostgresServer

TTL = 1.2  # generous: a loaded CI machine may take a while to run a round


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s: Store
    if request.param == "sqlite":
        s = SqliteStore(str(tmp_path / "hts.db"))
    else:
        pg: PostgresServer = request.getfixturevalue("postgres")
        s = await PostgresStore.open(pg.create_database("lease"))
    yield s
    await s.close()


class Engine:
    """A Leadership with hooks that record what happened to it."""

    def __init__(self, store: Store, name: str) -> None:
        self.led: list[int] = []
        self.stepped_down: list[int] = []
        self.lease = Leadership(store, name, f"http://{name}", ttl=TTL,
                                on_lead=self._lead, on_step_down=self._down)

    async def _lead(self, epoch: int) -> None:
        self.led.append(epoch)

    async def _down(self, epoch: int) -> None:
        self.stepped_down.append(epoch)


async def rounds_until(engine: Engine, done: object, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (done() if callable(done) else done):
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(await engine.lease.step())


async def test_one_leads_and_a_paused_leader_is_fenced_off(store: Store) -> None:
    a, b = Engine(store, "a"), Engine(store, "b")
    await a.lease.step()
    await b.lease.step()
    assert a.lease.leading() and not b.lease.leading()
    assert a.led == [1] and b.led == []
    assert await b.lease.leader() == ("a", "http://a", 1)
    fence = a.lease.fence()
    assert fence is not None
    await store.commit([("INSERT INTO meta (key, value) VALUES ('k1', 'a')", ())], fence)

    # a is paused: its rounds stop; b takes over once the lease has run out
    await rounds_until(b, lambda: b.lease.leading(), timeout=TTL * 5)
    assert b.led == [2]
    assert not a.lease.leading()  # a's own clock says so before it asks anyone
    assert a.lease.fence() is None
    # a wakes and writes with the fence it held: refused, nothing written
    with pytest.raises(StaleLeader):
        await store.commit([("INSERT INTO meta (key, value) VALUES ('k2', 'a')", ())], fence)
    await a.lease.step()  # its next round notices and steps down
    assert a.stepped_down == [1] and not a.lease.leading()
    await a.lease.step()  # and it does not take the live lease back
    assert a.led == [1] and b.lease.leading()
    keys = [r["key"] for r in await store.fetch("SELECT key FROM meta WHERE key LIKE 'k%'")]
    assert keys == ["k1"]


async def test_renewal_keeps_the_lease(store: Store) -> None:
    a, b = Engine(store, "a"), Engine(store, "b")
    task = asyncio.create_task(a.lease.run())
    try:
        await rounds_until(a, lambda: a.lease.leading(), timeout=2)
        for _ in range(12):  # two lease lengths of b polling
            await asyncio.sleep(await b.lease.step())
            assert not b.lease.leading() and a.lease.leading()
    finally:
        a.lease.stop()
        await task


async def test_release_hands_over_at_the_next_poll(store: Store) -> None:
    a, b = Engine(store, "a"), Engine(store, "b")
    await a.lease.step()
    await a.lease.release()
    assert not a.lease.leading()
    await b.lease.step()  # at once, not after the lease would have run out
    assert b.lease.leading() and b.led == [2]
