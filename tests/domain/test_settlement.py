"""잔고 like a brokerage account: T+2 settlement (예수금, D+1, D+2) on KRX business days,
주문가능금액, 총평가, 평가손익 and 수익률, on the broker and a real SQLite store."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.orders import OrderType, Side
from hts_realtime.engine.accounts import return_percent
from hts_realtime.engine.broker import OrderRequest
from tests.domain.test_commit_failure import World

INITIAL = 100_000_000


def fee(amount: int) -> int:
    return amount * 15 // 100_000


def tax(amount: int) -> int:  # KOSPI, 2026: 0.20 %
    return amount * 20 // 10_000


class Clock:
    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


async def world(tmp_path: Path, day: date) -> tuple[World, Clock]:
    w = await World.make(tmp_path)
    clock = Clock(day)
    w.broker.accounts.today = clock
    return w, clock


async def fill(w: World, side: Side, qty: int, price: int, when: datetime) -> int:
    """A limit order at ``price`` and a print there on ``when`` that fills all of it;
    the net cash it moves (+ a sale's proceeds, - a purchase's cost), from its fills."""
    order, _ = await w.broker.place("1", OrderRequest("005930", side, OrderType.LIMIT, qty,
                                                      price))
    w.t = when
    q = w.market.replay_trade("005930", price, qty, Side.SELL if side is Side.BUY
                              else Side.BUY, when)
    w.broker.on_quotes([q], when)
    await w.commits.settle()
    fills = await w.broker.fills("1", order.order_id)
    assert sum(f["quantity"] for f in fills) == qty
    amount = sum(f["amount"] for f in fills)
    assert sum(f["fee"] for f in fills) == fee(amount)
    if side is Side.BUY:
        return -(amount + fee(amount))
    return amount - fee(amount) - tax(amount)


async def acc(w: World) -> dict[str, Any]:
    return await w.broker.account("1")


async def test_a_buy_and_a_sell_settle_two_business_days_later(tmp_path: Path) -> None:
    monday = date(2026, 1, 5)
    w, clock = await world(tmp_path, monday)
    paid = -await fill(w, Side.BUY, 10, 70_000, datetime(2026, 1, 5, 10, 0, tzinfo=KST))
    assert paid == 700_000 + fee(700_000)
    a = await acc(w)
    assert a["cash"] == a["deposit_d2"] == INITIAL - paid
    assert a["settlements"] == [{"date": "2026-01-07", "amount": -paid}]
    assert a["deposit"] == a["deposit_d1"] == INITIAL  # nothing paid yet
    assert a["available_cash"] == INITIAL - paid  # 주문가능금액 from D+2

    got = await fill(w, Side.SELL, 4, 80_000, datetime(2026, 1, 6, 10, 0, tzinfo=KST))
    assert got == 320_000 - fee(320_000) - tax(320_000)
    clock.day = date(2026, 1, 6)
    a = await acc(w)
    assert a["cash"] == INITIAL - paid + got
    assert a["settlements"] == [{"date": "2026-01-07", "amount": -paid},
                                {"date": "2026-01-08", "amount": got}]
    assert a["deposit"] == INITIAL  # today nothing has settled yet
    assert a["deposit_d1"] == INITIAL - paid  # by tomorrow the purchase has
    assert a["deposit_d2"] == a["cash"]
    assert a["available_cash"] == a["cash"]  # the sale's proceeds are orderable at once

    clock.day = date(2026, 1, 7)
    a = await acc(w)
    assert a["settlements"] == [{"date": "2026-01-08", "amount": got}]
    assert (a["deposit"], a["deposit_d1"]) == (INITIAL - paid, a["cash"])
    clock.day = date(2026, 1, 8)
    a = await acc(w)
    assert a["settlements"] == [] and a["deposit"] == a["cash"]

    # a later fill prunes the settled rows on disk too; a reload reads the same state
    await fill(w, Side.SELL, 1, 80_000, datetime(2026, 1, 8, 10, 0, tzinfo=KST))
    rows = w.db.conn.execute("SELECT settle_date FROM settlements").fetchall()
    assert [r[0] for r in rows] == ["2026-01-12"]  # Thursday + 2 business days: Monday
    before = await acc(w)
    w.broker.forget()
    await w.broker.load()
    assert await acc(w) == before
    await w.close()


async def test_holidays_and_weekends_are_skipped(tmp_path: Path) -> None:
    w, clock = await world(tmp_path, date(2026, 2, 13))
    # Friday before 설날 (16-18 Feb closed): T+2 is Friday 20 Feb
    await fill(w, Side.BUY, 1, 70_000, datetime(2026, 2, 13, 10, 0, tzinfo=KST))
    # a print on Saturday (the demo's always-open mode): the second trading day after it
    await fill(w, Side.BUY, 1, 65_000, datetime(2026, 2, 21, 10, 0, tzinfo=KST))
    a = await acc(w)
    assert [s["date"] for s in a["settlements"]] == ["2026-02-20", "2026-02-24"]
    clock.day = date(2026, 2, 19)  # D+1 of the 19th is the 20th
    a = await acc(w)
    assert a["deposit_d1"] == a["cash"] - a["settlements"][1]["amount"]
    await w.close()


async def test_valuation_and_returns_in_total_and_per_holding(tmp_path: Path) -> None:
    w, _ = await world(tmp_path, date(2026, 1, 5))
    await fill(w, Side.BUY, 10, 70_000, datetime(2026, 1, 5, 10, 0, tzinfo=KST))
    a = await acc(w)
    (pos,) = a["positions"]
    cost = 700_000 + fee(700_000)
    price = pos["market_price"]
    assert pos["cost"] == a["purchase_amount"] == cost
    assert pos["avg_price"] == (2 * cost + 10) // 20  # half up to the won
    assert pos["market_value"] == a["market_value"] == 10 * price
    assert pos["unrealized_pnl"] == a["unrealized_pnl"] == 10 * price - cost
    assert pos["return_percent"] == a["return_percent"] == round(
        (10 * price - cost) * 100 / cost, 2)
    assert a["total_value"] == a["cash"] + a["market_value"]
    await w.close()


def test_return_percent() -> None:
    assert return_percent(0, 0) == 0.0
    assert return_percent(1_325_000, 10_000_000) == 13.25
    assert return_percent(-1, 3) == -33.33

