"""정정 (amend) as cancel-and-replace, on the broker and a real SQLite store: the link,
the exact holds, time priority kept or lost, and memory that follows the commit."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hts_realtime.domain.orders import Order, OrderType, Side
from hts_realtime.engine.broker import AmendRequest, OrderRequest
from hts_realtime.protocol.errors import (
    InsufficientFunds,
    InsufficientHoldings,
    InvalidOrder,
    InvalidPrice,
    NotFound,
    OrderNotAmendable,
    OrderNotCancellable,
)
from tests.domain.test_commit_failure import World, arm, consistent, disarm

PRICE = 70_000


def held(price: int) -> int:  # per share, fee included (0.015 %, rounded up)
    return price + -(-price * 15 // 100_000)


async def buy(w: World, qty: int, price: int = PRICE, user: str = "1") -> Order:
    order, _ = await w.broker.place(user, OrderRequest("005930", Side.BUY, OrderType.LIMIT,
                                                       qty, price))
    return order


async def reserved(w: World, user: str = "1") -> int:
    return int((await w.broker.account(user))["reserved_cash"])


def queue(w: World) -> list[str]:
    return [o.order_id for o in w.broker.open_snapshot()]


async def print_at(w: World, price: int, qty: int) -> None:
    """One trade on the tape: resting buys at or above ``price`` share ``qty`` shares."""
    w.t += timedelta(seconds=1)
    q = w.market.replay_trade("005930", price, qty, Side.SELL, w.t)
    w.broker.on_quotes([q], w.t)
    await w.commits.settle()


async def test_a_new_price_replaces_the_order_moves_the_hold_and_queues_last(
        tmp_path: Path) -> None:
    w = await World.make(tmp_path)
    a, b = await buy(w, 10), await buy(w, 10)
    assert await reserved(w) == 20 * held(PRICE)
    events = len(w.events)
    new, created = await w.broker.amend("1", AmendRequest(a.order_id, price=PRICE + 100))
    assert created and new.order_id != a.order_id
    assert (new.original_order_id, new.price, new.quantity) == (a.order_id, PRICE + 100, 10)
    old = await w.broker.get("1", a.order_id)
    assert (old.status.value, old.replaced_by) == ("replaced", new.order_id)
    assert await reserved(w) == 10 * held(PRICE) + 10 * held(PRICE + 100)
    assert queue(w) == [b.order_id, new.order_id]  # a new price queues last
    # two events, one transaction: the old order replaced, then the new one accepted
    sent = w.events[events:]
    assert [(e.payload["data"]["order_id"], e.payload["data"]["status"]) for e in sent] == [
        (a.order_id, "replaced"), (new.order_id, "accepted")]
    assert sent[1].seq == sent[0].seq + 1
    consistent(w)
    await w.close()


async def test_a_lower_quantity_keeps_priority_a_higher_one_loses_it(tmp_path: Path) -> None:
    w = await World.make(tmp_path)
    a, b = await buy(w, 10), await buy(w, 10)
    smaller, _ = await w.broker.amend("1", AmendRequest(a.order_id, quantity=4))
    assert queue(w) == [smaller.order_id, b.order_id]
    assert await reserved(w) == 14 * held(PRICE)
    # the tape reaches the price with 4 shares: the amended order is first and takes them
    await print_at(w, PRICE, 4)
    assert (await w.broker.get("1", smaller.order_id)).status.value == "filled"
    assert (await w.broker.get("1", b.order_id)).filled_quantity == 0
    # a larger quantity queues behind b
    c = await buy(w, 5)
    larger, _ = await w.broker.amend("1", AmendRequest(b.order_id, quantity=12))
    assert queue(w) == [c.order_id, larger.order_id]
    # the kept priority survives a restart (the queue is rebuilt from the database)
    d, _ = await w.broker.amend("1", AmendRequest(c.order_id, quantity=3))
    await w.broker.load()
    assert queue(w) == [d.order_id, larger.order_id]
    consistent(w)
    await w.close()


async def test_a_partly_filled_order_keeps_its_fills_and_the_rest_moves(tmp_path: Path) -> None:
    w = await World.make(tmp_path)
    a = await buy(w, 10)
    await print_at(w, PRICE, 3)
    part = await w.broker.get("1", a.order_id)
    assert (part.status.value, part.filled_quantity) == ("partially_filled", 3)
    cash = (await w.broker.account("1"))["cash"]
    new, _ = await w.broker.amend("1", AmendRequest(a.order_id, price=PRICE - 100))
    assert new.quantity == 7  # the unfilled rest, by default
    old = await w.broker.get("1", a.order_id)
    assert (old.status.value, old.filled_quantity, old.remaining_quantity) == ("replaced", 3, 7)
    assert await reserved(w) == 7 * held(PRICE - 100)
    assert (await w.broker.account("1"))["cash"] == cash  # nothing paid or refunded
    consistent(w)
    await w.close()


async def test_a_sell_moves_its_held_shares(tmp_path: Path) -> None:
    w = await World.make(tmp_path)
    await buy(w, 10)
    await print_at(w, PRICE, 10)
    sell, _ = await w.broker.place("1", OrderRequest("005930", Side.SELL, OrderType.LIMIT, 6,
                                                     PRICE + 5_000))
    new, _ = await w.broker.amend("1", AmendRequest(sell.order_id, quantity=8))
    (pos,) = (await w.broker.account("1"))["positions"]
    assert (pos["quantity"], pos["available_quantity"]) == (10, 2)
    with pytest.raises(InsufficientHoldings):
        await w.broker.amend("1", AmendRequest(new.order_id, quantity=11))
    (pos,) = (await w.broker.account("1"))["positions"]
    assert pos["available_quantity"] == 2
    await w.close()


async def test_refusals_change_nothing(tmp_path: Path) -> None:
    w = await World.make(tmp_path)
    a = await buy(w, 10)
    before = (await reserved(w), queue(w), len(w.events))
    with pytest.raises(InvalidOrder):  # no change
        await w.broker.amend("1", AmendRequest(a.order_id, price=PRICE, quantity=10))
    with pytest.raises(InvalidPrice):  # off the tick grid
        await w.broker.amend("1", AmendRequest(a.order_id, price=PRICE + 50))
    with pytest.raises(InvalidOrder):
        await w.broker.amend("1", AmendRequest(a.order_id, quantity=0))
    with pytest.raises(InsufficientFunds):  # ~₩100M of cash: 2,000 shares is too much
        await w.broker.amend("1", AmendRequest(a.order_id, quantity=2_000))
    with pytest.raises(NotFound):  # someone else's order is no order at all
        await w.broker.amend("2", AmendRequest(a.order_id, quantity=5))
    assert (await reserved(w), queue(w), len(w.events)) == before
    assert (await w.broker.get("1", a.order_id)).status.value == "accepted"
    await w.broker.cancel("1", a.order_id)
    with pytest.raises(OrderNotAmendable):
        await w.broker.amend("1", AmendRequest(a.order_id, quantity=5))
    market, _ = await w.broker.place("1", OrderRequest("005930", Side.BUY, OrderType.MARKET,
                                                       1))
    assert market.order_id in queue(w)  # (no market step here: it rests)
    with pytest.raises(InvalidOrder):
        await w.broker.amend("1", AmendRequest(market.order_id, quantity=2))
    await w.close()


async def test_an_amendment_whose_commit_fails_changes_nothing(tmp_path: Path) -> None:
    w = await World.make(tmp_path)
    a = await buy(w, 10)
    before = (await reserved(w), queue(w), len(w.events))
    arm(w.db, "orders", "INSERT")
    with pytest.raises(sqlite3.IntegrityError):
        await w.broker.amend("1", AmendRequest(a.order_id, price=PRICE + 100))
    assert (await reserved(w), queue(w), len(w.events)) == before
    assert a.status.value == "accepted" and a.replaced_by is None
    consistent(w)
    disarm(w.db)
    new, _ = await w.broker.amend("1", AmendRequest(a.order_id, price=PRICE + 100))
    assert queue(w) == [new.order_id]
    consistent(w)
    await w.close()


async def test_the_same_key_returns_the_same_new_order(tmp_path: Path) -> None:
    w = await World.make(tmp_path)
    a = await buy(w, 10)
    first, created = await w.broker.amend("1", AmendRequest(a.order_id, quantity=5), "k1")
    again, replayed = await w.broker.amend("1", AmendRequest(a.order_id, quantity=5), "k1")
    assert created and not replayed and again.order_id == first.order_id
    assert await reserved(w) == 5 * held(PRICE)
    w.broker.forget()  # a new leader: the key is read from the database
    await w.broker.load()
    again, replayed = await w.broker.amend("1", AmendRequest(a.order_id, quantity=5), "k1")
    assert not replayed and again.order_id == first.order_id
    await w.close()


async def test_holds_reconcile_to_the_won_under_concurrent_amends_cancels_and_fills(
        tmp_path: Path) -> None:
    """Many amends, cancels, placements and prints queued together (one group commit
    takes several at once): the held cash is always the open orders' rest at their
    per-share hold, and memory is what the database has."""
    w = await World.make(tmp_path)
    rng = random.Random(22)
    refused = 0

    async def attempt(op: Any) -> None:
        nonlocal refused
        try:
            await op
        except (OrderNotAmendable, OrderNotCancellable, InvalidOrder, InsufficientFunds):
            refused += 1  # lost a race to a fill or a cancel: refused, nothing changed

    for _ in range(40):
        live = [o for o in w.broker.open_snapshot()]
        ops: list[Any] = [buy(w, rng.randint(1, 20), PRICE - 100 * rng.randint(0, 5))]
        for o in rng.sample(live, min(len(live), 4)):
            choice = rng.random()
            if choice < 0.4:
                ops.append(w.broker.amend("1", AmendRequest(
                    o.order_id, price=PRICE - 100 * rng.randint(0, 5))))
            elif choice < 0.8:
                ops.append(w.broker.amend("1", AmendRequest(
                    o.order_id, quantity=rng.randint(1, 25))))
            else:
                ops.append(w.broker.cancel("1", o.order_id))
        w.t += timedelta(seconds=1)
        q = w.market.replay_trade("005930", PRICE - 100 * rng.randint(0, 5), rng.randint(1, 15),
                                  Side.SELL, w.t)
        w.broker.on_quotes([q], w.t)
        await asyncio.gather(*(attempt(op) for op in ops))
        await w.commits.settle()
        open_now = w.broker.open_snapshot()
        assert await reserved(w) == sum(o.remaining_quantity * o.reserve_price
                                        for o in open_now)
        consistent(w)
    # every replaced order points at an order that points back
    rows = w.db.conn.execute("SELECT order_id, replaced_by FROM orders "
                             "WHERE status = 'replaced'").fetchall()
    assert len(rows) >= 10, (len(rows), refused)  # (18 amendments, 32 refusals: seed 22)
    for order_id, replaced_by in rows:
        (back,) = w.db.conn.execute("SELECT original_order_id FROM orders WHERE order_id = ?",
                                    (replaced_by,)).fetchone()
        assert back == order_id
    await w.close()
