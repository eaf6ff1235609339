"""Group commit on a real SQLite store and a real PostgreSQL server: many works, one
transaction, memory after the commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from pathlib import Path
from typing import Any

import pytest

from hts_realtime.engine.group_commit import GroupCommit, Tx
from hts_realtime.protocol.errors import InsufficientFunds, Unavailable
from hts_realtime.storage.postgres import PostgresStore
from hts_realtime.storage.sqlite import SqliteStore
from hts_realtime.storage.store import Fence, StaleLeader, Store
from tests.postgres import PostgresServer


class Counters:
    """A toy owner of in-memory state: named counters, persisted in ``meta``."""

    def __init__(self) -> None:
        self.committed: dict[str, int] = {}

    def apply_staged(self, key: Hashable, value: Any) -> None:
        self.committed[str(key)] = value

    def add(self, tx: Tx, name: str, n: int) -> int:
        current = tx.get(self, name)
        value = (self.committed.get(name, 0) if current is Tx.MISSING else current) + n
        if value < 0:
            raise InsufficientFunds(f"{name} would go below zero")
        tx.put(self, name, value)
        tx.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                   "DO UPDATE SET value = excluded.value", (name, str(value)))
        return value


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s: Store
    if request.param == "sqlite":
        s = SqliteStore(str(tmp_path / "hts.db"))
    else:
        pg: PostgresServer = request.getfixturevalue("postgres")
        s = await PostgresStore.open(pg.create_database("commit"))
    yield s
    await s.close()


async def started(commits: GroupCommit) -> asyncio.Task[None]:
    return asyncio.create_task(commits.serve())


async def test_many_works_share_one_commit_and_see_each_other(store: Store) -> None:
    counters = Counters()
    published: list[Any] = []
    commits = GroupCommit(store, published.extend)
    task = await started(commits)
    before = store.commits  # type: ignore[attr-defined]
    results = await asyncio.gather(*(commits.run(lambda tx: counters.add(tx, "a", 1))
                                     for _ in range(50)))
    assert sorted(results) == list(range(1, 51))  # each saw the ones before it
    assert store.commits - before == 1 and commits.largest_group == 50  # type: ignore[attr-defined]
    assert counters.committed == {"a": 50}
    row = await store.fetchrow("SELECT value FROM meta WHERE key = 'a'")
    assert row is not None and row["value"] == "50"
    task.cancel()


async def test_a_refused_work_drops_alone(store: Store) -> None:
    counters = Counters()
    commits = GroupCommit(store, lambda evs: None)
    task = await started(commits)
    ok1 = commits.run(lambda tx: counters.add(tx, "b", 5))
    bad = commits.run(lambda tx: (counters.add(tx, "c", 1), counters.add(tx, "b", -100)))
    ok2 = commits.run(lambda tx: counters.add(tx, "b", -5))
    results = await asyncio.gather(ok1, bad, ok2, return_exceptions=True)
    assert results[0] == 5 and isinstance(results[1], InsufficientFunds) and results[2] == 0
    assert counters.committed == {"b": 0}  # nothing of the refused work, not even "c"
    assert await store.fetchrow("SELECT 1 FROM meta WHERE key = 'c'") is None
    task.cancel()


async def test_memory_waits_for_the_commit_and_a_failed_commit_changes_nothing(
        store: Store) -> None:
    counters = Counters()
    seen_during_commit: list[dict[str, int]] = []
    real_commit = store.commit

    async def observed(writes: Any, fence: Fence | None = None) -> None:
        seen_during_commit.append(dict(counters.committed))
        await real_commit(writes, fence)

    store.commit = observed  # type: ignore[method-assign]
    commits = GroupCommit(store, lambda evs: None)
    task = await started(commits)
    assert await commits.run(lambda tx: counters.add(tx, "d", 3)) == 3
    assert seen_during_commit == [{}] and counters.committed == {"d": 3}

    def breaks(tx: Tx) -> None:  # a statement that fails at commit time
        counters.add(tx, "d", 1)
        tx.execute("INSERT INTO no_such_table VALUES (1)")

    with pytest.raises(Exception, match="no_such_table"):
        await commits.run(breaks)
    assert counters.committed == {"d": 3}
    assert commits.failed_commits == 1
    task.cancel()


async def test_a_stale_fence_fails_the_group_and_steps_down(store: Store) -> None:
    await store.execute("INSERT INTO leases (name, holder, epoch, expires_at) "
                        "VALUES ('engine', 'other', 5, 0)")
    counters, stale = Counters(), []

    async def on_stale(reason: str) -> None:
        stale.append(reason)

    commits = GroupCommit(store, lambda evs: None, fence=lambda: Fence("engine", 4),
                          on_stale=on_stale)
    task = await started(commits)
    # the caller may retry (elsewhere): unavailable, with Retry-After
    with pytest.raises(Unavailable) as refused:
        await commits.run(lambda tx: counters.add(tx, "e", 1))
    assert refused.value.retry_after == 1.0
    assert counters.committed == {} and len(stale) == 1
    assert "epoch 5, not 4" in stale[0]

    # a fence that says "not leading" before the group runs: no work runs at all
    ran: list[str] = []

    def not_leading() -> Fence:
        raise StaleLeader("this engine does not lead")

    commits.fence = not_leading
    with pytest.raises(Unavailable):
        await commits.run(lambda tx: ran.append("ran"))
    assert ran == []
    task.cancel()


async def test_a_groups_users_are_prepared_once_before_it_runs(store: Store) -> None:
    """A work names its users; the committer reads those memory lacks, once per group,
    and skips the ones already prepared (a work queued before a step-down finds its
    users read again instead of a forgotten ledger)."""
    prepared: set[str] = {"known"}
    reads: list[set[str]] = []

    async def prepare(users: set[str]) -> None:
        reads.append(set(users))
        prepared.update(users)

    def needs(*users: str) -> Any:
        def work(tx: Tx) -> None:
            assert all(u in prepared for u in users), users
            tx.execute("INSERT INTO meta (key, value) VALUES (?, 'x') ON CONFLICT (key) "
                       "DO NOTHING", ("-".join(users),))
        return work

    commits = GroupCommit(store, lambda evs: None, prepare=prepare,
                          prepared=lambda u: u in prepared)
    commits.submit(needs("a", "known"), users=("a", "known"))
    commits.submit(needs("b"), users=("b",))
    last = commits.run(needs("a", "b"), users=("a", "b"))
    task = await started(commits)
    await last
    assert reads == [{"a", "b"}]  # one read for the group, "known" skipped
    prepared.discard("a")  # forgotten (a step-down): read again by the next group
    await commits.run(needs("a"), users=("a",))
    assert reads == [{"a", "b"}, {"a"}]
    task.cancel()
