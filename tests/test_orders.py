"""Paper trading over HTTP: validation, fills, money arithmetic, cancel, idempotency."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hts_realtime.domain.krx import price_limits
from tests.support import Server
from tests.trading import account, fills_of, held_per_share, place, wait_order

INITIAL = 100_000_000


@pytest.fixture
def trader(server: Server, request: pytest.FixtureRequest) -> str:
    return server.add_user(f"t{abs(hash(request.node.name)) % 10**10}")


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"symbol": "999999"}, 400, "unknown_symbol"),
    ({"quantity": 0}, 400, "invalid_order"),
    ({"quantity": -5}, 400, "invalid_order"),
    ({"quantity": "10"}, 400, "invalid_message"),
    ({"quantity": 1.5}, 400, "invalid_message"),
    ({"quantity": True}, 400, "invalid_message"),
    ({"side": "hold"}, 400, "invalid_message"),
    ({"order_type": "stop"}, 400, "invalid_message"),
    ({"order_type": "limit"}, 400, "invalid_order"),  # no price
    ({"order_type": "limit", "price": 75_050}, 400, "invalid_price"),  # off the ₩100 grid
    ({"order_type": "limit", "price": 97_600}, 400, "invalid_price"),  # above +30%
    ({"order_type": "limit", "price": 52_400}, 400, "invalid_price"),  # below -30%
    ({"order_type": "market", "price": 75_000}, 400, "invalid_order"),
    ({"quantity": 2_000}, 400, "insufficient_funds"),  # 2,000 x upper limit 97,500 > 100M
    ({"side": "sell", "quantity": 1}, 400, "insufficient_holdings"),
    ({"surprise": 1}, 400, "invalid_message"),
])
def test_order_validation(server: Server, trader: str, body: dict[str, object], status: int,
                          code: str) -> None:
    resp = place(server, trader, expect=status, **body)
    assert resp["error"]["code"] == code
    assert resp["error"]["message"]
    _, orders, _ = server.http("GET", "/api/orders", token=trader)
    assert orders == []
    assert account(server, trader)["cash"] == INITIAL


def test_orders_need_a_token(server: Server) -> None:
    status, body, _ = server.http("POST", "/api/orders", {"symbol": "005930"})
    assert status == 401 and body["error"]["code"] == "auth_required"
    status, body, _ = server.http("GET", "/api/account")
    assert status == 401


def test_market_buy_then_sell_with_exact_integer_money(server: Server, trader: str) -> None:
    buy = place(server, trader, quantity=10)
    assert buy["status"] == "accepted" and buy["remaining_quantity"] == 10
    held = account(server, trader)
    _, upper = price_limits(75_000)
    # until it fills, a market buy holds cash at the day's upper limit
    if held["reserved_cash"]:  # and the fee on that
        assert held["reserved_cash"] == 10 * held_per_share(upper) == 10 * (upper + 15)
    buy = wait_order(server, trader, buy["order_id"])
    assert buy["status"] == "filled" and buy["filled_quantity"] == 10
    assert 0 < buy["last_fill_quantity"] <= 10 and buy["last_fill_price"] > 0  # read from disk
    bought = fills_of(server, trader, buy["order_id"], "buy")
    buy_fee = sum(f["fee"] for f in bought)
    assert buy["fees"] == buy_fee > 0
    cost = _filled_amount(server, trader, buy["order_id"]) + buy_fee  # the fee is in the cost
    acc = account(server, trader)
    assert acc["cash"] == INITIAL - cost
    assert acc["fees_paid"] == buy_fee and acc["taxes_paid"] == 0
    assert acc["reserved_cash"] == 0 and acc["available_cash"] == acc["cash"]
    (pos,) = acc["positions"]
    assert pos["symbol"] == "005930" and pos["quantity"] == 10
    assert pos["cost"] == cost
    assert pos["unrealized_pnl"] == pos["quantity"] * pos["market_price"] - cost
    assert acc["total_value"] == acc["cash"] + 10 * pos["market_price"]
    for v in (acc["cash"], acc["total_value"], pos["avg_price"], pos["market_price"]):
        assert isinstance(v, int)

    sell = wait_order(server, trader, place(server, trader, side="sell", quantity=4)["order_id"])
    assert sell["status"] == "filled"
    sold = fills_of(server, trader, sell["order_id"], "sell")
    sell_fee, sell_tax = sum(f["fee"] for f in sold), sum(f["tax"] for f in sold)
    assert sell["fees"] == sell_fee + sell_tax and sell_tax > 0
    proceeds = _filled_amount(server, trader, sell["order_id"]) - sell_fee - sell_tax
    acc = account(server, trader)
    assert acc["cash"] == INITIAL - cost + proceeds
    assert acc["fees_paid"] == buy_fee + sell_fee and acc["taxes_paid"] == sell_tax
    (pos,) = acc["positions"]
    assert pos["quantity"] == 6
    cost_out = cost * 4 // 10
    assert pos["cost"] == cost - cost_out
    assert acc["realized_pnl"] == proceeds - cost_out  # after every cost


def _filled_amount(server: Server, token: str, order_id: str) -> int:
    """Sum of fills, from the order's journaled updates (each carries the last fill)."""
    _, order, _ = server.http("GET", f"/api/orders/{order_id}", token=token)
    # filled_price is the rounded average; the exact amount is in the event stream, but for
    # whole-lot checks the average times the quantity is exact when every fill shares a price
    fills = _fills(server, token, order_id)
    assert sum(q for q, _ in fills) == order["filled_quantity"]
    return sum(q * p for q, p in fills)


def _fills(server: Server, token: str, order_id: str) -> list[tuple[int, int]]:
    status, events, _ = server.http("GET", f"/api/orders/{order_id}/fills", token=token)
    assert status == 200, events
    return [(f["quantity"], f["price"]) for f in events]


def test_limit_buy_fills_at_the_market_when_it_crosses(server: Server, trader: str) -> None:
    _, upper = price_limits(75_000)
    order = place(server, trader, order_type="limit", price=upper, quantity=3)
    assert order["price"] == upper
    order = wait_order(server, trader, order["order_id"])
    assert order["status"] == "filled"
    fills = _fills(server, trader, order["order_id"])
    assert all(p <= upper for _, p in fills)
    paid = sum(f["amount"] + f["fee"] for f in fills_of(server, trader, order["order_id"], "buy"))
    acc = account(server, trader)
    assert acc["reserved_cash"] == 0
    assert acc["cash"] == INITIAL - paid


def test_limit_order_rests_and_cancel_releases_the_hold(server: Server, trader: str) -> None:
    lower, _ = price_limits(75_000)
    order = place(server, trader, order_type="limit", price=lower, quantity=100)
    acc = account(server, trader)
    assert acc["reserved_cash"] == 100 * held_per_share(lower)
    assert acc["available_cash"] == INITIAL - 100 * held_per_share(lower)
    status, cancelled, _ = server.http("DELETE", f"/api/orders/{order['order_id']}",
                                       token=trader)
    assert status == 200 and cancelled["status"] == "cancelled"
    assert cancelled["remaining_quantity"] == 100
    acc = account(server, trader)
    assert acc["reserved_cash"] == 0 and acc["cash"] == INITIAL
    status, again, _ = server.http("DELETE", f"/api/orders/{order['order_id']}", token=trader)
    assert status == 409 and again["error"]["code"] == "order_not_cancellable"
    _, listed, _ = server.http("GET", "/api/orders?status=cancelled", token=trader)
    assert [o["order_id"] for o in listed] == [order["order_id"]]
    _, none_open, _ = server.http("GET", "/api/orders?status=accepted", token=trader)
    assert none_open == []
    status, bad, _ = server.http("GET", "/api/orders?status=sideways", token=trader)
    assert status == 400 and bad["error"]["code"] == "invalid_message"


def test_sell_holds_shares_until_cancelled(server: Server, trader: str) -> None:
    wait_order(server, trader, place(server, trader, quantity=5)["order_id"])
    _, upper = price_limits(75_000)
    resting = place(server, trader, side="sell", order_type="limit", price=upper, quantity=5)
    place(server, trader, expect=400, side="sell", quantity=1)  # all 5 are held
    (pos,) = account(server, trader)["positions"]
    assert pos["quantity"] == 5 and pos["available_quantity"] == 0
    server.http("DELETE", f"/api/orders/{resting['order_id']}", token=trader)
    (pos,) = account(server, trader)["positions"]
    assert pos["available_quantity"] == 5


def test_idempotency_key_makes_one_order(server: Server, trader: str) -> None:
    lower, _ = price_limits(75_000)
    body = {"order_type": "limit", "price": lower, "quantity": 7}
    first = place(server, trader, key="retry-1", **body)
    status, second, headers = server.http(
        "POST", "/api/orders", {"symbol": "005930", "side": "buy", **body}, token=trader,
        headers={"Idempotency-Key": "retry-1"})
    assert status == 201 and second["order_id"] == first["order_id"]
    assert headers.get("Idempotent-Replayed") == "true"
    _, orders, _ = server.http("GET", "/api/orders", token=trader)
    assert len(orders) == 1
    assert account(server, trader)["reserved_cash"] == 7 * held_per_share(lower)
    # the same key for a different order is a conflict, not a silent replay
    conflict = place(server, trader, expect=409, key="retry-1", order_type="limit",
                     price=lower, quantity=8)
    assert conflict["error"]["code"] == "conflict"


def test_users_see_only_their_own_orders(server: Server, trader: str,
                                         request: pytest.FixtureRequest) -> None:
    lower, _ = price_limits(75_000)
    mine = place(server, trader, order_type="limit", price=lower, quantity=1)
    other = server.add_user(f"o{abs(hash(request.node.name)) % 10**10}")
    status, body, _ = server.http("GET", f"/api/orders/{mine['order_id']}", token=other)
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body, _ = server.http("DELETE", f"/api/orders/{mine['order_id']}", token=other)
    assert status == 404 and body["error"]["code"] == "not_found"
    _, listed, _ = server.http("GET", "/api/orders", token=other)
    assert listed == []
    status, body, _ = server.http("GET", "/api/orders/ORDNOSUCHTHING", token=trader)
    assert status == 404


def test_partial_fills_over_several_ticks(make_server: Callable[..., Server]) -> None:
    # ₩1.3B of Kakao: more than the ten levels on show (~₩0.3B), so it takes several steps
    big = 5_000_000_000
    srv = make_server({"HTS_INITIAL_CASH": str(big)}).start()
    tok = srv.add_user("bigbuyer")
    order = place(srv, tok, symbol="035720", quantity=30_000)
    seen = set()
    while True:
        o = wait_order(srv, tok, order["order_id"], {"partially_filled", "filled"})
        seen.add(o["status"])
        if o["status"] == "filled":
            break
    assert "partially_filled" in seen
    fills = fills_of(srv, tok, order["order_id"], "buy")
    assert len({f["price"] for f in fills}) >= 2, fills
    assert len({f["time"] for f in fills}) >= 2
    assert sum(f["quantity"] for f in fills) == 30_000
    paid = sum(f["amount"] + f["fee"] for f in fills)
    acc = account(srv, tok)
    assert acc["cash"] == big - paid
    (pos,) = acc["positions"]
    assert pos["quantity"] == 30_000 and pos["cost"] == paid
