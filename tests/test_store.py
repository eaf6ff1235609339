"""The engine's store, the same tests on SQLite and on a real PostgreSQL server.

One schema (the migrations give both the same tables and columns), one
transaction per ``commit`` (all or nothing), fencing (a stale epoch writes
nothing), the durability each store promises, and a PostgreSQL restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hts_realtime.storage import migrations
from hts_realtime.storage.postgres import PostgresStore, numbered
from hts_realtime.storage.sqlite import SqliteStore
from hts_realtime.storage.store import Fence, StaleLeader, Store, StoreUnavailable, grouped
from tests.postgres import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s: Store
    if request.param == "sqlite":
        s = SqliteStore(str(tmp_path / "hts.db"))
    else:
        pg: PostgresServer = request.getfixturevalue("postgres")
        s = await PostgresStore.open(pg.create_database("store"))
    yield s
    await s.close()


INSERT_ORDER = ("INSERT INTO orders (order_id, user_id, symbol, side, order_type, quantity, "
                "status, created_at, updated_at) VALUES (?, ?, '005930', 'buy', 'market', ?, "
                "'accepted', 't', 't')")


def order(order_id: str, qty: int = 1) -> tuple[str, tuple[object, ...]]:
    return INSERT_ORDER, (order_id, "1", qty)


async def count(store: Store, table: str) -> int:
    row = await store.fetchrow(f"SELECT COUNT(*) AS n FROM {table}")
    assert row is not None
    return int(row["n"])


async def columns(store: Store) -> set[tuple[str, str]]:
    if store.dialect == "sqlite":
        tables = [r["name"] for r in await store.fetch(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        out = set()
        for t in tables:
            out |= {(t, r["name"]) for r in await store.fetch(f"PRAGMA table_info({t})")}
        return out
    rows = await store.fetch("SELECT table_name, column_name FROM information_schema.columns "
                             "WHERE table_schema = 'public' AND table_name <> 'schema_version'")
    return {(r["table_name"], r["column_name"]) for r in rows}


async def test_one_schema_on_both_stores(tmp_path: Path, postgres: PostgresServer) -> None:
    lite = SqliteStore(str(tmp_path / "a.db"))
    pg = await PostgresStore.open(postgres.create_database("schema"))
    try:
        ours, theirs = await columns(lite), await columns(pg)
        assert ("leases", "epoch") in ours and ("orders", "last_fill_quantity") in ours
        assert ours == theirs
        # a second open (another engine starting) finds the schema current
        again = await PostgresStore.open(postgres.url(
            (await pg.fetchrow("SELECT current_database() AS d"))["d"]))  # type: ignore[index]
        row = await again.fetchrow("SELECT version FROM schema_version")
        assert row is not None and row["version"] == migrations.VERSION
        await again.close()
    finally:
        await lite.close()
        await pg.close()


async def test_access_triggers_on_both(store: Store) -> None:
    """The access-change feed (schema v6) is filled by triggers in both dialects."""
    await store.commit([("INSERT INTO users (username, password_hash, created_at) "
                         "VALUES ('ann', 'x', 't')", ())])
    row = await store.fetchrow("SELECT id FROM users WHERE username = 'ann'")
    assert row is not None
    await store.execute("UPDATE users SET disabled = 1 WHERE username = 'ann'")
    await store.commit([("INSERT INTO revoked_tokens (jti, user_id, expires_at) "
                         "VALUES ('j1', ?, 1)", (str(row["id"]),))])
    await store.execute("DELETE FROM users WHERE username = 'ann'")
    changes = await store.fetch("SELECT user_id FROM access_changes ORDER BY id")
    assert [r["user_id"] for r in changes] == [str(row["id"])] * 3


async def test_commit_is_all_or_nothing(store: Store) -> None:
    await store.commit([order("A"), order("B"),
                        ("UPDATE orders SET quantity = quantity + ? WHERE order_id = ?", (5, "A"))])
    row = await store.fetchrow("SELECT quantity FROM orders WHERE order_id = 'A'")
    assert row is not None and row["quantity"] == 6
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        await store.commit([order("C"), order("A")])  # A exists: the batch fails whole
    assert await count(store, "orders") == 2
    assert await store.fetchrow("SELECT 1 FROM orders WHERE order_id = 'C'") is None


async def test_a_stale_epoch_writes_nothing(store: Store) -> None:
    await store.execute("INSERT INTO leases (name, holder, epoch, expires_at) "
                        "VALUES ('engine', 'b', 2, 0)")
    with pytest.raises(StaleLeader):
        await store.commit([order("OLD")], Fence("engine", 1))
    with pytest.raises(StaleLeader):
        await store.commit([order("NONE")], Fence("no-such-lease", 1))
    await store.commit([order("NEW")], Fence("engine", 2))
    ids = [r["order_id"] for r in await store.fetch("SELECT order_id FROM orders")]
    assert ids == ["NEW"]


async def test_durability_as_promised(store: Store) -> None:
    if store.dialect == "sqlite":
        row = await store.write_returning("PRAGMA synchronous")
        assert row is not None and row[0] == 2  # FULL: every commit fsynced
        assert "power loss" in store.durability
    else:
        row = await store.fetchrow("SELECT current_setting('synchronous_commit') AS s, "
                                   "current_setting('fsync') AS f")
        assert row is not None and (row["s"], row["f"]) == ("on", "on")
        assert "flushed" in store.durability


async def test_returning_and_rowcount(store: Store) -> None:
    row = await store.write_returning(
        "INSERT INTO user_streams (user_id, last_seq) VALUES (?, 1) ON CONFLICT (user_id) "
        "DO UPDATE SET last_seq = user_streams.last_seq + 1 RETURNING last_seq", ("u",))
    assert row is not None and row["last_seq"] == 1
    row = await store.write_returning(
        "INSERT INTO user_streams (user_id, last_seq) VALUES (?, 1) ON CONFLICT (user_id) "
        "DO UPDATE SET last_seq = user_streams.last_seq + 1 RETURNING last_seq", ("u",))
    assert row is not None and row["last_seq"] == 2
    assert await store.execute("UPDATE user_streams SET last_seq = 9 WHERE user_id = ?",
                               ("nobody",)) == 0
    assert await store.execute("UPDATE user_streams SET last_seq = 9") == 1


async def test_postgres_restart_then_the_pool_reconnects(postgres: PostgresServer) -> None:
    store = await PostgresStore.open(postgres.create_database("restart"))
    try:
        await store.commit([order("BEFORE")])
        postgres.stop("immediate")
        with pytest.raises(StoreUnavailable):
            await store.commit([order("DURING")])
        postgres.start()
        await store.commit([order("AFTER")])
        ids = sorted(r["order_id"] for r in await store.fetch("SELECT order_id FROM orders"))
        assert ids == ["AFTER", "BEFORE"]
    finally:
        await store.close()


def test_placeholders_and_grouping() -> None:
    assert numbered("SELECT ? + ?, 'x' WHERE a = ?") == "SELECT $1 + $2, 'x' WHERE a = $3"
    # statements whose table is not plain: only consecutive ones share a call
    writes = [("a", (1,)), ("a", (2,)), ("b", (3,)), ("a", (4,))]
    assert grouped(writes) == [("a", [(1,), (2,)]), ("b", [(3,)]), ("a", [(4,)])]
    # plain writes to different tables: one call per statement
    ins_a, ins_b = "INSERT INTO a (k) VALUES (?)", "INSERT INTO b (k) VALUES (?)"
    writes = [(ins_a, (1,)), (ins_b, (2,)), (ins_a, (3,))]
    assert grouped(writes) == [(ins_a, [(1,), (3,)]), (ins_b, [(2,)])]
