"""정정 over HTTP with the events a client follows, on one process and through a gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hts_realtime.domain.krx import price_limits
from tests.cluster import ROLES, module_front
from tests.support import Client, Server
from tests.trading import account, held_per_share, place

LOWER, UPPER = price_limits(75_000)  # a buy at LOWER rests: far below the market


@pytest.fixture(scope="module", params=ROLES)
def front(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = module_front(tmp_path_factory, "amend", request.param, {})
    yield srv
    srv.stop()


def amend(srv: Server, token: str, order_id: str, body: Any, expect: int = 201,
          key: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    headers = {"Idempotency-Key": key} if key else None
    status, resp, got = srv.http("POST", f"/api/orders/{order_id}/amend", body, token=token,
                                 headers=headers)
    assert status == expect, (status, resp)
    return dict(resp), dict(got)


async def test_amend_price_then_quantity_with_the_events_and_exact_holds(
        front: Server, clients: Callable[[], Client]) -> None:
    token = front.add_user("amender")
    watcher = await clients().connect(front.url, auth={"token": token, "topics": ["order:*"]})
    await watcher.wait_for("connected")
    order = place(front, token, order_type="limit", price=LOWER, quantity=10)
    await watcher.wait_for("order_update", 1)

    up = LOWER + 100
    new, headers = amend(front, token, order["order_id"], {"price": up}, key="amend-1")
    assert "Idempotent-Replayed" not in headers
    assert (new["status"], new["price"], new["quantity"]) == ("accepted", up, 10)
    assert (new["original_order_id"], new["replaced_by"]) == (order["order_id"], None)
    _, old, _ = front.http("GET", f"/api/orders/{order['order_id']}", token=token)
    assert (old["status"], old["replaced_by"]) == ("replaced", new["order_id"])
    assert old["reason"] == f"amended by {new['order_id']}"
    acc = account(front, token)
    assert acc["reserved_cash"] == 10 * held_per_share(up)
    assert acc["available_cash"] == acc["cash"] - 10 * held_per_share(up)

    # the client sees the old order replaced, then the new one, in consecutive seqs
    seen = await watcher.wait_for("order_update", 3)
    assert [(u["data"]["order_id"], u["data"]["status"]) for u in seen[1:]] == [
        (order["order_id"], "replaced"), (new["order_id"], "accepted")]
    assert seen[2]["seq"] == seen[1]["seq"] + 1
    assert seen[1]["data"]["replaced_by"] == new["order_id"]
    assert seen[2]["data"]["original_order_id"] == order["order_id"]

    # a retry with the same key: the same new order, nothing more
    again, headers = amend(front, token, order["order_id"], {"price": up}, key="amend-1")
    assert again["order_id"] == new["order_id"] and headers["Idempotent-Replayed"] == "true"
    # the same key for a different amendment is a conflict
    body, _ = amend(front, token, order["order_id"], {"price": up + 100}, 409, key="amend-1")
    assert body["error"]["code"] == "conflict"

    smaller, _ = amend(front, token, new["order_id"], {"quantity": 4})
    assert (smaller["price"], smaller["quantity"]) == (up, 4)
    assert account(front, token)["reserved_cash"] == 4 * held_per_share(up)
    # 미체결 shows the one live order; 전체 the chain, newest first
    _, page, _ = front.http("GET", "/api/orders?view=open", token=token)
    assert [o["order_id"] for o in page] == [smaller["order_id"]]
    _, page, _ = front.http("GET", "/api/orders", token=token)
    assert [(o["order_id"], o["status"]) for o in page] == [
        (smaller["order_id"], "accepted"), (new["order_id"], "replaced"),
        (order["order_id"], "replaced")]

    # a replaced order is no longer open: neither amended nor cancelled again
    body, _ = amend(front, token, order["order_id"], {"quantity": 3}, 409)
    assert body["error"]["code"] == "order_not_amendable"
    status, body, _ = front.http("DELETE", f"/api/orders/{order['order_id']}", token=token)
    assert (status, body["error"]["code"]) == (409, "order_not_cancellable")
    front.http("DELETE", f"/api/orders/{smaller['order_id']}", token=token)
    assert account(front, token)["reserved_cash"] == 0
    await watcher.disconnect()


@pytest.mark.parametrize(("body", "status", "code"), [
    ({}, 400, "invalid_message"),
    ({"price": "75000"}, 400, "invalid_message"),
    ({"quantity": True}, 400, "invalid_message"),
    ({"quantity": 1.5}, 400, "invalid_message"),
    ({"quantity": 2, "side": "sell"}, 400, "invalid_message"),
    ([1], 400, "invalid_message"),
    ({"quantity": 10}, 400, "invalid_order"),  # no change
    ({"quantity": 0}, 400, "invalid_order"),
    ({"price": LOWER + 50}, 400, "invalid_price"),  # off the ₩100 grid
    ({"price": UPPER + 100}, 400, "invalid_price"),  # above the band
    ({"quantity": 2_000}, 400, "insufficient_funds"),
])
def test_bad_amendments_are_refused_and_change_nothing(front: Server, body: Any, status: int,
                                                       code: str) -> None:
    token = front.login("testuser", "testpass")
    order = place(front, token, order_type="limit", price=LOWER, quantity=10)
    held = account(front, token)["reserved_cash"]
    resp, _ = amend(front, token, order["order_id"], body, status)
    assert resp["error"]["code"] == code and resp["error"]["message"]
    _, same, _ = front.http("GET", f"/api/orders/{order['order_id']}", token=token)
    assert same["status"] == "accepted" and same["replaced_by"] is None
    assert account(front, token)["reserved_cash"] == held
    front.http("DELETE", f"/api/orders/{order['order_id']}", token=token)


def test_others_orders_and_unknown_ids_are_not_found(front: Server) -> None:
    owner, other = front.add_user("owner22"), front.add_user("other22")
    order = place(front, owner, order_type="limit", price=LOWER, quantity=1)
    for token, order_id in ((other, order["order_id"]), (owner, "ORDNOSUCHORDER")):
        resp, _ = amend(front, token, order_id, {"quantity": 2}, 404)
        assert resp["error"]["code"] == "not_found"
    status, _, _ = front.http("POST", f"/api/orders/{order['order_id']}/amend",
                              {"quantity": 2})
    assert status == 401
