"""Fees and tax by hand, on known fills, through the broker and its database."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from hts_realtime.domain.costs import Costs
from hts_realtime.domain.market import MarketSimulator
from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.orders import OrderType, Side
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.engine.broker import OrderRequest, PaperBroker
from hts_realtime.engine.group_commit import GroupCommit
from hts_realtime.engine.journal import EventBus, Journal
from hts_realtime.settings import Settings
from hts_realtime.storage.sqlite import SqliteStore

COSTS = Costs.of("0.00015", {"KOSPI": "0.002", "KOSDAQ": "0.002"})
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=KST)


def test_the_readme_example() -> None:
    # selling 10 at ₩75,100: amount 751,000; fee ⌊112.65⌋ = 112; tax ⌊1,502⌋ = 1,502
    assert COSTS.fee(751_000) == 112
    assert COSTS.tax(Side.SELL, "KOSPI", 751_000) == 1_502
    assert COSTS.tax(Side.BUY, "KOSPI", 751_000) == 0
    assert COSTS.fee(6_666) == 0  # 0.9999 rounds down
    assert COSTS.fee(6_667) == 1
    # a buy holds the price plus its fee, rounded up per share: 97,500 × 0.00015 = 14.625
    assert COSTS.reserve_per_share(97_500) == 97_515
    assert COSTS.reserve_per_share(1_000) == 1_001


def test_default_settings_are_the_documented_rates() -> None:
    s = Settings.load({"HTS_JWT_SECRET": "x" * 40})
    assert (s.brokerage_fee_rate, s.sell_tax_rate_kospi, s.sell_tax_rate_kosdaq) == (
        0.00015, 0.002, 0.002)
    assert Costs.of(s.brokerage_fee_rate, {}).fee_rate.denominator == 20_000  # exact 3/20,000


async def test_known_fills_book_fees_tax_and_realized_pnl_to_the_won(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "hts.db"))
    commits = GroupCommit(store, EventBus().publish)
    serving = asyncio.create_task(commits.serve())
    master = SymbolMaster()
    market = MarketSimulator(master, seed=1, now=NOW)
    broker = PaperBroker(store, Journal(store, 1000), commits, master, market,
                         initial_cash=100_000_000, max_quantity=1_000_000, participation=1.0,
                         costs=COSTS)
    await broker.load()
    t = NOW + timedelta(seconds=1)
    # the book after this trade: bids from 75,000 down, asks from 75,100 up
    q = market.replay_trade("005930", 75_000, 1_000, Side.SELL, t)
    buy, _ = await broker.place("1", OrderRequest("005930", Side.BUY, OrderType.MARKET, 10))
    broker.on_quotes([q], t)
    await commits.settle()
    assert await broker.fills("1", buy.order_id) == [
        {"fill_id": 1, "quantity": 10, "price": 75_100, "amount": 751_000, "fee": 112, "tax": 0,
         "time": (await broker.fills("1", buy.order_id))[0]["time"]}]
    acc = await broker.account("1")
    assert acc["cash"] == 100_000_000 - 751_000 - 112
    assert acc["positions"][0]["cost"] == 751_112
    assert (acc["fees_paid"], acc["taxes_paid"], acc["realized_pnl"]) == (112, 0, 0)

    q = market.replay_trade("005930", 76_000, 1_000, Side.BUY, t + timedelta(seconds=1))
    sell, _ = await broker.place("1", OrderRequest("005930", Side.SELL, OrderType.MARKET, 4))
    broker.on_quotes([q], t + timedelta(seconds=1))
    await commits.settle()
    (fill,) = await broker.fills("1", sell.order_id)
    # 4 at the best bid 76,000: amount 304,000; fee ⌊45.6⌋ = 45; tax ⌊608⌋ = 608
    assert (fill["price"], fill["amount"], fill["fee"], fill["tax"]) == (76_000, 304_000, 45, 608)
    assert (await broker.get("1", sell.order_id)).fees == 653
    cost_out = 751_112 * 4 // 10  # 300,444
    acc = await broker.account("1")
    assert acc["cash"] == 100_000_000 - 751_112 + 304_000 - 45 - 608
    assert acc["realized_pnl"] == 304_000 - 45 - 608 - cost_out == 2_903
    assert (acc["fees_paid"], acc["taxes_paid"]) == (157, 608)
    assert acc["positions"][0]["cost"] == 751_112 - cost_out
    serving.cancel()
    await store.close()


def test_market_and_cost_settings_are_checked() -> None:
    import pytest

    from hts_realtime.settings import SettingsError

    base = {"HTS_JWT_SECRET": "x" * 40}
    assert Settings.load({**base, "HTS_MARKET_HOURS": "krx"}).market_hours == "krx"
    assert Settings.load(base).market_hours == "always"
    assert Settings.load(base).orderbook_interval_seconds == 0.5
    for bad in ({"HTS_MARKET_HOURS": "9-5"}, {"HTS_BROKERAGE_FEE_RATE": "-0.1"},
                {"HTS_SELL_TAX_RATE_KOSPI": "0.5"}, {"HTS_ORDERBOOK_INTERVAL_SECONDS": "0"}):
        with pytest.raises(SettingsError):
            Settings.load({**base, **bad})
