"""The strategy runner on a real SQLite file, fed hand-made trades."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hts_realtime.domain.events import PrivateEvent
from hts_realtime.domain.market import MarketSimulator
from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.orders import Side
from hts_realtime.domain.strategies.base import Signal, Strategy
from hts_realtime.domain.strategies.registry import build_strategy
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.engine.broker import PaperBroker
from hts_realtime.engine.group_commit import GroupCommit
from hts_realtime.engine.journal import EventBus, Journal
from hts_realtime.engine.strategy_runner import StrategyRunner
from hts_realtime.protocol.errors import InvalidStrategy, NotFound, UnknownSymbol
from hts_realtime.storage.sqlite import SqliteStore
from hts_realtime.storage.store import Store


class Boom(Strategy):
    kind = "boom"
    DEFAULTS: Mapping[str, int] = {"after": 2}

    def __init__(self, after: int = 2) -> None:
        super().__init__()
        self.after = after
        self.seen = 0

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> Boom:
        return cls(int(params.get("after", 2)))  # type: ignore[call-overload]

    def _evaluate(self, price: int) -> Signal | None:
        self.seen += 1
        if self.seen > self.after:
            raise RuntimeError("indicator exploded")
        return None

    def params(self) -> dict[str, int | float]:
        return {"after": self.after}


def factory(kind: str, params: Mapping[str, object]) -> Strategy:
    return Boom.from_params(params) if kind == "boom" else build_strategy(kind, params)


class World:
    """The engine's trading state on a real SQLite store (made inside the test's loop)."""

    def __init__(self, store: Store, status_interval: float = 1.0) -> None:
        self.store = store
        self.master = SymbolMaster()
        self.market = MarketSimulator(self.master, seed=1)
        self.journal = Journal(self.store, 10_000)
        self.bus = EventBus()
        self.events: list[PrivateEvent] = []
        self.bus.subscribe(self.events.append)
        self.commits = GroupCommit(self.store, self.bus.publish)
        self.serving = asyncio.create_task(self.commits.serve())
        self.broker = PaperBroker(self.store, self.journal, self.commits, self.master, self.market,
                                  initial_cash=100_000_000, max_quantity=1_000_000,
                                  participation=1.0)
        self.now = 0.0
        self.runner = StrategyRunner(self.store, self.journal, self.commits, self.master,
                                     self.broker, status_interval=status_interval,
                                     factory=factory, clock=lambda: self.now)

    @classmethod
    async def make(cls, open_store: OpenStore, status_interval: float = 1.0) -> World:
        w = cls(await open_store(), status_interval)
        await w.broker.load()
        await w.runner.load()
        return w

    async def trade(self, symbol: str, price: int, volume: int = 1_000) -> None:
        """A trade at ``price``; the book after it bids ``price`` and offers a tick above."""
        quote = self.market.replay_trade(symbol, price, volume, Side.BUY, datetime.now(KST))
        self.broker.on_quotes([quote])
        self.runner.on_quotes([quote])
        await self.commits.settle()  # the step, and any order a strategy placed on it
        self.now += 0.1

    async def close(self) -> None:
        await self.commits.settle()
        self.serving.cancel()
        await self.store.close()

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e.payload for e in self.events if e.event == event]


OpenStore = Callable[[], Awaitable[Store]]


@pytest.fixture
def open_store(tmp_path: Path) -> OpenStore:
    """Opens the test's database (again: a restart); ``tests/test_engine_stores.py``
    gives these tests a PostgreSQL one."""
    async def open_() -> Store:
        return SqliteStore(str(tmp_path / "hts.db"))
    return open_


@pytest.fixture
async def world(open_store: OpenStore) -> AsyncIterator[World]:
    w = await World.make(open_store)
    yield w
    await w.close()


async def test_create_validates(world: World) -> None:
    with pytest.raises(InvalidStrategy, match="short_window"):
        await world.runner.create("1", "ma_crossover", "005930", {"short_window": 50,
                                                            "long_window": 20}, 10, False)
    with pytest.raises(InvalidStrategy, match="unknown strategy kind"):
        await world.runner.create("1", "astrology", "005930", {}, 10, False)
    with pytest.raises(UnknownSymbol):
        await world.runner.create("1", "breakout", "999999", {}, 10, False)
    with pytest.raises(InvalidStrategy, match="quantity"):
        await world.runner.create("1", "breakout", "005930", {}, 0, False)
    run = await world.runner.create("1", "breakout", "005930", {"window": 3}, 10, False)
    assert run.state == "created" and run.params == {"window": 3}
    with pytest.raises(NotFound):
        world.runner.get("2", run.strategy_id)


async def test_signals_move_a_hypothetical_position_without_auto_trade(world: World) -> None:
    run = await world.runner.create("1", "breakout", "005930", {"window": 2}, 10, False)
    await world.runner.start("1", run.strategy_id)
    for px in (75_000, 75_100, 75_000):  # no breakout yet: channel 75,000-75,100
        await world.trade("005930", px)
    assert world.of("strategy_signal") == []
    await world.trade("005930", 75_200)  # > max(75,100, 75,000): BUY 10 @ 75,200
    (buy,) = world.of("strategy_signal")
    assert buy["data"] | {"timestamp": None} == {
        "signal": "buy", "symbol": "005930", "quantity": 10, "reason": buy["data"]["reason"],
        "price": 75_200, "timestamp": None}
    assert run.position == 10 and run.cost == 752_000
    await world.trade("005930", 75_300)  # unrealized +1,000, but within the status interval
    await world.trade("005930", 74_900)  # < min(75,200, 75,300): SELL 10 @ 74,900
    sell = world.of("strategy_signal")[-1]
    assert sell["data"]["signal"] == "sell" and sell["data"]["quantity"] == 10
    assert run.position == 0 and run.realized_pnl == (74_900 - 75_200) * 10
    status = world.of("strategy_status")[-1]["data"]
    assert status["position"] == 0 and status["realized_pnl"] == -3_000
    assert status["state"] == "running"
    # no orders were placed
    assert await world.broker.list_orders("1") == []


async def test_auto_trade_places_orders_and_follows_fills(world: World) -> None:
    run = await world.runner.create("1", "breakout", "005930", {"window": 2}, 7, True)
    await world.runner.start("1", run.strategy_id)
    for px in (75_000, 75_100, 75_000, 75_200):
        await world.trade("005930", px)
    (order,) = await world.broker.list_orders("1")
    assert order.strategy_id == run.strategy_id and order.side.value == "buy"
    assert order.quantity == 7 and order.status.value == "accepted"
    assert run.position == 0  # not filled yet: fills follow the next trade
    await world.trade("005930", 75_300)  # the market buy takes the best ask, a tick above
    order = await world.broker.get("1", order.order_id)
    assert order.status.value == "filled"
    assert run.position == 7 and run.cost == 7 * 75_400
    statuses = [s["data"] for s in world.of("strategy_status")]
    assert statuses[-1]["position"] == 7
    await world.trade("005930", 74_000)  # breakdown: SELL everything
    await world.trade("005930", 74_100)  # the sell fills here, at the best bid
    assert run.position == 0
    assert run.realized_pnl == 7 * (74_100 - 75_400)
    acc = await world.broker.account("1")
    assert acc["realized_pnl"] == run.realized_pnl
    assert acc["cash"] == 100_000_000 + run.realized_pnl
    # every event of the user is one gapless stream: order updates and strategy events
    seqs = [e.seq for e in world.events if e.user_id == "1"]
    assert seqs == list(range(1, len(seqs) + 1))
    kinds = {e.event for e in world.events}
    assert kinds == {"order_update", "strategy_signal", "strategy_status"}


async def test_pnl_only_status_is_conflated(open_store: OpenStore) -> None:
    w = await World.make(open_store, status_interval=1.0)
    run = await w.runner.create("1", "breakout", "005930", {"window": 2}, 10, False)
    await w.runner.start("1", run.strategy_id)
    for px in (75_000, 75_100, 75_000, 75_200):
        await w.trade("005930", px)
    assert run.position == 10
    before = len(w.of("strategy_status"))
    for i in range(30):  # 3 s of trades inside the channel, 0.1 s apart, price moving
        await w.trade("005930", 75_150 if i % 2 else 75_180 - 30)
    pnl_updates = len(w.of("strategy_status")) - before
    assert 1 <= pnl_updates <= 4, pnl_updates
    await w.close()


async def test_a_failing_strategy_stops_alone(world: World) -> None:
    bad = await world.runner.create("1", "boom", "005930", {"after": 2}, 1, False)
    good = await world.runner.create("1", "breakout", "005930", {"window": 2}, 1, False)
    await world.runner.start("1", bad.strategy_id)
    await world.runner.start("1", good.strategy_id)
    for px in (75_000, 75_100, 75_000, 75_200, 75_300):
        await world.trade("005930", px)
    assert bad.state == "error" and "indicator exploded" in (bad.reason or "")
    assert good.state == "running" and good.position == 1
    errors = [s for s in world.of("strategy_status")
              if s["strategy_id"] == bad.strategy_id and s["data"]["state"] == "error"]
    assert len(errors) == 1 and "indicator exploded" in errors[0]["data"]["reason"]
    assert world.runner.running() == 1
    # it can be started again (fresh indicator state)
    await world.runner.start("1", bad.strategy_id)
    assert bad.state == "running"


async def test_state_survives_a_restart(open_store: OpenStore) -> None:
    w = await World.make(open_store)
    run = await w.runner.create("1", "breakout", "005930", {"window": 2}, 10, False)
    stopped = await w.runner.create("1", "rsi", "000660", {}, 5, False)
    await w.runner.start("1", run.strategy_id)
    for px in (75_000, 75_100, 75_000, 75_200):
        await w.trade("005930", px)
    await w.close()
    w2 = await World.make(open_store)
    again = w2.runner.get("1", run.strategy_id)
    assert again.state == "running" and again.position == 10 and again.cost == 752_000
    assert w2.runner.get("1", stopped.strategy_id).state == "created"
    assert w2.runner.running() == 1
    # and it keeps running: a breakdown after warm-up sells
    for px in (75_300, 75_400, 74_000):
        await w2.trade("005930", px)
    assert again.position == 0
    await w2.close()


async def test_stop_and_delete(world: World) -> None:
    run = await world.runner.create("1", "ma_crossover", "005930", {}, 1, False)
    await world.runner.start("1", run.strategy_id)
    assert (await world.runner.stop("1", run.strategy_id)).state == "stopped"
    assert world.runner.running() == 0
    await world.runner.delete("1", run.strategy_id)
    assert world.of("strategy_status")[-1]["data"]["state"] == "deleted"
    with pytest.raises(NotFound):
        world.runner.get("1", run.strategy_id)
    assert world.runner.owner_of(run.strategy_id) is None
