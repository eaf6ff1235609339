"""Helpers for paper-trading tests."""

from __future__ import annotations

import time
from typing import Any

from tests.support import Server

FINAL = {"filled", "cancelled", "rejected"}


def place(server: Server, token: str, expect: int = 201, key: str | None = None,
          **body: Any) -> dict[str, Any]:
    order = {"symbol": "005930", "side": "buy", "quantity": 1, "order_type": "market", **body}
    headers = {"Idempotency-Key": key} if key else None
    status, resp, _ = server.http("POST", "/api/orders", order, token=token, headers=headers)
    assert status == expect, (status, resp)
    return dict(resp)


def wait_order(server: Server, token: str, order_id: str, statuses: set[str] = FINAL,
               timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status, order, _ = server.http("GET", f"/api/orders/{order_id}", token=token)
        assert status == 200, order
        if order["status"] in statuses:
            return dict(order)
        if time.monotonic() > deadline:
            raise AssertionError(f"order stuck in {order['status']}: {order}")
        time.sleep(0.05)


def account(server: Server, token: str) -> dict[str, Any]:
    status, acc, _ = server.http("GET", "/api/account", token=token)
    assert status == 200, acc
    return dict(acc)




# Costs by hand, as the README states them for the default settings: a brokerage fee of
# 0.015% on every fill and a 0.20% transaction tax on sells (KOSPI and KOSDAQ, 2026),
# each rounded down to the won per fill.
def fee(amount: int) -> int:
    return amount * 15 // 100_000


def tax(side: str, amount: int) -> int:
    return amount * 20 // 10_000 if side == "sell" else 0


def held_per_share(price: int) -> int:
    """Cash a buy holds per share: the price plus its fee, rounded up."""
    return price + -(-price * 15 // 100_000)


def fills_of(server: Server, token: str, order_id: str, side: str) -> list[dict[str, Any]]:
    """The order's fills, each fee and tax checked by hand."""
    status, fills, _ = server.http("GET", f"/api/orders/{order_id}/fills", token=token)
    assert status == 200, fills
    for f in fills:
        assert f["amount"] == f["quantity"] * f["price"]
        assert f["fee"] == fee(f["amount"]) and f["tax"] == tax(side, f["amount"]), f
    return list(fills)
