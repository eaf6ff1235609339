"""The KRX close and calendar through a real server and a real client, with the
market's clock shifted (``HTS_MARKET_CLOCK_OFFSET_SECONDS``): a day order still open
at 15:30 expires (``order_update`` ``expired``, its held cash released), and a 2026
holiday is closed all day."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from hts_realtime.domain.krx import price_limits
from hts_realtime.domain.krx_calendar import add_business_days
from hts_realtime.domain.market_hours import KST
from hts_realtime.domain.symbols import SymbolMaster
from tests.cluster import ROLES, front
from tests.support import Client, Server
from tests.trading import account, place

SYMBOL = "005930"
PREV = SymbolMaster().get(SYMBOL).prev_close  # type: ignore[union-attr]


def offset_to(target: datetime) -> str:
    return str((target - datetime.now(KST)).total_seconds())


def server_at(role: str, tmp: Path, target: datetime) -> Server:
    return front(role, tmp, {"HTS_MARKET_HOURS": "krx",
                             "HTS_MARKET_CLOCK_OFFSET_SECONDS": offset_to(target)}).start()


@pytest.fixture(params=ROLES)
def closing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """25 s before the close of the next trading day (its closing auction): one process,
    or a gateway in front of an engine."""
    day = add_business_days(datetime.now(KST).date(), 0)
    srv = server_at(request.param, tmp_path, datetime.combine(day, time(15, 29, 35), KST))
    yield srv
    srv.stop()


async def test_day_orders_expire_at_the_close_and_release_their_cash(closing: Server) -> None:
    token = await asyncio.to_thread(closing.login)
    c = await Client().connect(closing.url, auth={"token": token, "topics": ["order:*"]})
    try:
        hello = (await c.wait_for("connected"))[0]
        assert hello["market_status"] == "closing_auction"
        lower, _ = price_limits(PREV)
        before = await asyncio.to_thread(account, closing, token)
        order = await asyncio.to_thread(place, closing, token, order_type="limit",
                                        price=lower, quantity=10)
        assert order["status"] == "accepted"
        held = await asyncio.to_thread(account, closing, token)
        assert held["reserved_cash"] - before["reserved_cash"] >= 10 * lower
        await c.wait_for("market_status", 1, timeout=60)  # 15:30
        assert c.events["market_status"][-1]["status"] == "closed"
        while not any(e["data"]["status"] == "expired" for e in c.events["order_update"]):
            await c.wait_for("order_update", len(c.events["order_update"]) + 1, timeout=20)
        expired = [e["data"] for e in c.events["order_update"]
                   if e["data"]["status"] == "expired"][-1]
        assert expired["order_id"] == order["order_id"] and expired["filled_quantity"] == 0
        assert expired["reason"] == "day order expired at the close"
        after = await asyncio.to_thread(account, closing, token)
        assert after["reserved_cash"] == before["reserved_cash"]
        assert after["available_cash"] == before["available_cash"]
        status, got, _ = await asyncio.to_thread(closing.http, "GET",
                                                 f"/api/orders/{order['order_id']}", None,
                                                 token)
        assert status == 200 and got["status"] == "expired"
    finally:
        await c.disconnect()


@pytest.mark.parametrize("role", ROLES)
async def test_a_krx_holiday_is_closed_all_day(role: str, tmp_path: Path) -> None:
    srv = await asyncio.to_thread(server_at, role, tmp_path,
                                  datetime.combine(date(2026, 2, 17), time(10, 0), KST))
    try:
        token = await asyncio.to_thread(srv.login)
        c = await Client().connect(srv.url, auth={"token": token})
        try:
            assert (await c.wait_for("connected"))[0]["market_status"] == "closed"  # 설날
        finally:
            await c.disconnect()
        status, market, _ = await asyncio.to_thread(srv.http, "GET", "/api/market")
        assert status == 200 and market["status"] == "closed" and market["mode"] == "krx"
        assert datetime.fromisoformat(market["timestamp"]) - datetime.now(KST) < timedelta(
            minutes=1)
    finally:
        await asyncio.to_thread(srv.stop)
