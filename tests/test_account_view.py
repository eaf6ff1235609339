"""잔고 over HTTP and the socket: 예수금, D+1/D+2, 결제예정, 주문가능금액, 총평가, 평가손익,
수익률, on one process and through a gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from hts_realtime.domain.krx_calendar import add_business_days
from hts_realtime.domain.market_hours import KST
from tests.cluster import ROLES, module_front
from tests.support import Client, Server
from tests.trading import account, fills_of, place, wait_order

INITIAL = 100_000_000


@pytest.fixture(scope="module", params=ROLES)
def front(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = module_front(tmp_path_factory, "account", request.param, {})
    yield srv
    srv.stop()


async def test_the_account_settles_t_plus_2_and_values_every_holding(
        front: Server, clients: Callable[[], Client]) -> None:
    token = front.add_user("holder")
    fresh = account(front, token)
    assert (fresh["deposit"], fresh["deposit_d1"], fresh["deposit_d2"]) == (INITIAL,) * 3
    assert fresh["settlements"] == [] and fresh["return_percent"] == 0
    assert fresh["purchase_amount"] == 0

    bought = wait_order(front, token, place(front, token, quantity=10)["order_id"])
    paid = sum(f["amount"] + f["fee"] for f in fills_of(front, token, bought["order_id"], "buy"))
    sold = wait_order(front, token, place(front, token, side="sell", quantity=4)["order_id"])
    got = sum(f["amount"] - f["fee"] - f["tax"]
              for f in fills_of(front, token, sold["order_id"], "sell"))
    acc = account(front, token)
    # both fills settle on the same business day: one net entry
    settle = add_business_days(datetime.now(KST).date(), 2).isoformat()
    assert acc["settlements"] == [{"date": settle, "amount": got - paid}]
    assert acc["cash"] == acc["deposit_d2"] == INITIAL - paid + got
    assert acc["deposit"] == INITIAL  # nothing has settled yet
    assert acc["available_cash"] == acc["cash"] - acc["reserved_cash"]

    (pos,) = acc["positions"]
    assert pos["quantity"] == 6 and acc["purchase_amount"] == pos["cost"]
    assert pos["avg_price"] == (2 * pos["cost"] + 6) // 12
    assert pos["unrealized_pnl"] == pos["market_value"] - pos["cost"]
    assert pos["return_percent"] == round(pos["unrealized_pnl"] * 100 / pos["cost"], 2)
    assert acc["return_percent"] == round(acc["unrealized_pnl"] * 100 / pos["cost"], 2)
    assert acc["total_value"] == acc["cash"] + acc["market_value"]

    # the socket's get_account answers the same 잔고
    c = await clients().connect(front.url, auth={"token": token})
    await c.wait_for("connected")
    ack = await c.call("get_account", {})
    assert ack["ok"] is True
    for key in ("cash", "deposit", "deposit_d1", "deposit_d2", "settlements",
                "purchase_amount", "available_cash"):
        assert ack["data"][key] == acc[key], key
    await c.disconnect()
