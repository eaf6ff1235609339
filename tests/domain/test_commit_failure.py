"""Memory follows the database: a transaction that fails at COMMIT changes nothing in memory.

The failure is a real SQLite one: a trigger writes a row that breaks a
*deferred* foreign key, so every statement succeeds and the COMMIT itself
fails ("FOREIGN KEY constraint failed"), as a full disk or an I/O error would.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hts_realtime.domain.costs import Costs
from hts_realtime.domain.events import PrivateEvent
from hts_realtime.domain.market import MarketSimulator
from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.orders import OrderType, Side
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.engine.broker import OrderRequest, PaperBroker
from hts_realtime.engine.group_commit import GroupCommit
from hts_realtime.engine.journal import EventBus, Journal
from hts_realtime.engine.market_feed import MarketFeed
from hts_realtime.engine.order_store import order_from_row
from hts_realtime.engine.strategy_runner import StrategyRunner
from hts_realtime.storage.db import Database
from hts_realtime.storage.sqlite import SqliteStore

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=KST)


def arm(db: Database, table: str, when: str = "INSERT") -> None:
    db.conn.executescript(f"""
        CREATE TABLE IF NOT EXISTS boom_parent (id INTEGER PRIMARY KEY);
        CREATE TABLE IF NOT EXISTS boom_child (
            ref INTEGER REFERENCES boom_parent (id) DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER boom AFTER {when} ON {table} BEGIN INSERT INTO boom_child VALUES (1); END;
    """)


def disarm(db: Database) -> None:
    db.conn.execute("DROP TRIGGER boom")


class World:
    """The trading state on a real SQLite store (made inside the test's loop)."""

    def __init__(self, path: Path) -> None:
        self.db = Database(str(path / "hts.db"))
        self.store = SqliteStore(str(path / "hts.db"))
        self.master = SymbolMaster()
        self.market = MarketSimulator(self.master, seed=3, now=NOW)
        self.journal = Journal(self.store, 10_000)
        self.bus = EventBus()
        self.events: list[PrivateEvent] = []
        self.bus.subscribe(self.events.append)
        self.commits = GroupCommit(self.store, self.bus.publish)
        self.serving = asyncio.create_task(self.commits.serve())
        self.broker = PaperBroker(self.store, self.journal, self.commits, self.master, self.market,
                                  initial_cash=100_000_000, max_quantity=1_000_000,
                                  participation=1.0,
                                  costs=Costs.of("0.00015", {"KOSPI": "0.002"}))
        self.runner = StrategyRunner(self.store, self.journal, self.commits, self.master,
                                     self.broker, clock=lambda: 0.0)
        self.feed = MarketFeed(self.market, 0.1, [self.broker.on_quotes, self.runner.on_quotes])
        self.t = NOW

    @classmethod
    async def make(cls, path: Path) -> World:
        w = cls(path)
        await w.broker.load()
        await w.runner.load()
        return w

    async def trade(self, price: int) -> None:
        self.t += timedelta(seconds=1)
        q = self.market.replay_trade("005930", price, 1_000, Side.SELL, self.t)
        self.broker.on_quotes([q], self.t)
        self.runner.on_quotes([q])
        await self.commits.settle()

    async def close(self) -> None:
        await self.commits.settle()
        self.serving.cancel()
        await self.store.close()
        self.db.close()

    def state(self) -> dict[str, Any]:
        """Memory and disk side by side."""
        conn = self.db.conn
        disk_open = [order_from_row(r) for r in conn.execute(
            "SELECT * FROM orders WHERE status IN ('accepted', 'partially_filled') "
            "ORDER BY created_at")]
        runs = {r["strategy_id"]: (r["position"], r["cost"], r["realized_pnl"], r["state"])
                for r in conn.execute("SELECT * FROM strategies")}
        return {
            "memory_open": sorted((o.order_id, o.filled_quantity, o.status.value, o.fees)
                                  for o in self.broker.open_snapshot()),
            "disk_open": sorted((o.order_id, o.filled_quantity, o.status.value, o.fees)
                                for o in disk_open),
            "memory_runs": {r.strategy_id: (r.position, r.cost, r.realized_pnl, r.state)
                            for r in self.runner.list_runs("1")},
            "disk_runs": runs,
        }


def consistent(w: World) -> dict[str, Any]:
    s = w.state()
    assert s["memory_open"] == s["disk_open"]
    assert s["memory_runs"] == s["disk_runs"]
    return s


async def test_a_fill_whose_commit_fails_changes_nothing_in_memory(tmp_path: Path) -> None:
    w = await World.make(tmp_path)
    run = await w.runner.create("1", "breakout", "005930", {"window": 2}, 7, True)
    await w.runner.start("1", run.strategy_id)
    for px in (75_000, 75_100, 75_000, 75_200):  # breakout: the run places a market buy
        await w.trade(px)
    (order,) = await w.broker.list_orders("1")
    assert order.status.value == "accepted" and run.open_order_id == order.order_id
    account_before = (await w.broker.account("1"))
    events_before = len(w.events)
    before = consistent(w)

    arm(w.db, "fills")
    quotes = w.market.step(w.t + timedelta(seconds=1))
    book_before = w.market.book("005930")
    w.broker.on_quotes(quotes, w.t + timedelta(seconds=1))
    await w.commits.settle()
    assert w.commits.failed_commits == 1  # "FOREIGN KEY constraint failed" at COMMIT
    assert consistent(w) == before  # the order, its run: as the database has them
    assert run.position == 0 and run.open_order_id == order.order_id
    assert (await w.broker.account("1")) == account_before
    assert len(w.events) == events_before  # nothing published
    assert w.market.book("005930") == book_before  # no liquidity taken
    # the next step fails the same way and changes nothing either; the order is still
    # there to fill
    w.feed.step(w.t + timedelta(seconds=2))
    await w.commits.settle()
    assert w.commits.failed_commits == 2
    consistent(w)

    disarm(w.db)
    w.t += timedelta(seconds=3)
    w.feed.step(w.t)
    await w.commits.settle()
    after = consistent(w)
    filled = await w.broker.get("1", order.order_id)
    assert filled.status.value == "filled" and after["memory_open"] == []
    fills = await w.broker.fills("1", order.order_id)
    assert sum(f["quantity"] for f in fills) == 7
    paid = sum(f["amount"] + f["fee"] for f in fills)
    assert run.position == 7 and run.cost == paid
    assert (await w.broker.account("1"))["cash"] == 100_000_000 - paid
    await w.close()


async def test_a_cancel_whose_commit_fails_leaves_the_order_open(tmp_path: Path) -> None:
    w = await World.make(tmp_path)
    req = OrderRequest("005930", Side.BUY, OrderType.LIMIT, 10, 70_000)
    order, _ = await w.broker.place("1", req)
    held = (await w.broker.account("1"))["reserved_cash"]
    arm(w.db, "orders", "UPDATE")
    with pytest.raises(sqlite3.IntegrityError):
        await w.broker.cancel("1", order.order_id)
    assert order.status.value == "accepted" and w.broker.open_orders() == 1
    consistent(w)
    disarm(w.db)
    assert (await w.broker.cancel("1", order.order_id)).status.value == "cancelled"
    assert w.broker.open_orders() == 0 and held > 0
    assert (await w.broker.account("1"))["reserved_cash"] == 0
    consistent(w)
    await w.close()


async def test_a_strategy_state_change_whose_commit_fails_is_not_applied(tmp_path: Path) -> None:
    w = await World.make(tmp_path)
    run = await w.runner.create("1", "breakout", "005930", {"window": 2}, 7, False)
    arm(w.db, "strategies", "UPDATE")
    with pytest.raises(sqlite3.IntegrityError):
        await w.runner.start("1", run.strategy_id)
    assert run.state == "created" and w.runner.running() == 0
    consistent(w)
    disarm(w.db)
    await w.runner.start("1", run.strategy_id)
    for px in (75_000, 75_100, 75_000):
        await w.trade(px)
    arm(w.db, "strategies", "UPDATE")
    w.t += timedelta(seconds=1)
    q = w.market.replay_trade("005930", 75_200, 1_000, Side.BUY, w.t)
    w.runner.on_quotes([q])  # a buy signal: the hypothetical position would change
    await w.commits.settle()
    assert w.commits.failed_commits == 2 and run.position == 0  # the start, then this
    consistent(w)
    await w.close()


async def test_candles_whose_flush_fails_are_kept_for_the_next_one(tmp_path: Path) -> None:
    from hts_realtime.engine.candle_store import CandleStore
    from hts_realtime.engine.candles import CandleBook

    db = Database(str(tmp_path / "c.db"))
    store = SqliteStore(str(tmp_path / "c.db"))
    commits = GroupCommit(store, lambda events: None)
    serving = asyncio.create_task(commits.serve())
    candles = CandleStore(store)
    book = CandleBook(candles, commits, [s.symbol for s in SymbolMaster()])
    await book.load()
    market = MarketSimulator(SymbolMaster(), seed=5, now=NOW)
    for i in range(20):
        book.on_quotes(market.step(NOW + timedelta(seconds=i)))
    live = [c.to_wire() for c in await book.candles("005930", "1m", 10)]
    arm(db, "candles")
    with pytest.raises(sqlite3.IntegrityError):
        await book.flush()
    assert await candles.read("005930", "1m", 10) == []  # nothing half-written
    assert [c.to_wire() for c in await book.candles("005930", "1m", 10)] == live  # served
    disarm(db)
    assert await book.flush() > 0
    assert [c.to_wire() for c in await candles.read("005930", "1m", 10)] == live
    serving.cancel()
    await store.close()
    db.close()
