"""Many orders from several users at once: every account reconciles with its fills,
to the won, with the brokerage fee and the transaction tax of each fill checked by hand."""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from hts_realtime.domain.krx import floor_to_tick, price_limits
from tests.support import Server
from tests.trading import FINAL, account, fills_of, wait_order

INITIAL = 100_000_000
SYMBOLS = ("005930", "000660", "035720", "015760", "048410")


def _trade(srv: Server, token: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    ids = []
    for _ in range(25):
        symbol = rng.choice(SYMBOLS)
        acc = account(srv, token)
        held = {p["symbol"]: p["available_quantity"] for p in acc["positions"]}
        if held.get(symbol, 0) > 0 and rng.random() < 0.4:
            body = {"symbol": symbol, "side": "sell", "quantity": rng.randint(1, held[symbol]),
                    "order_type": "market"}
        elif rng.random() < 0.5:
            body = {"symbol": symbol, "side": "buy", "quantity": rng.randint(1, 20),
                    "order_type": "market"}
        else:
            lower, upper = price_limits(_prev_close(srv, symbol))
            px = floor_to_tick(rng.randint(lower, upper))
            body = {"symbol": symbol, "side": "buy", "quantity": rng.randint(1, 20),
                    "order_type": "limit", "price": max(px, lower)}
        status, order, _ = srv.http("POST", "/api/orders", body, token=token)
        assert status in (201, 400), order
        if status == 201:
            ids.append(order["order_id"])
        else:
            assert order["error"]["code"] in {"insufficient_funds", "insufficient_holdings"}
    return ids


_CLOSES: dict[str, int] = {}


def _prev_close(srv: Server, symbol: str) -> int:
    if not _CLOSES:
        _, symbols, _ = srv.http("GET", "/api/symbols")
        _CLOSES.update({s["symbol"]: s["prev_close"] for s in symbols})
    return _CLOSES[symbol]


def test_concurrent_orders_keep_every_account_consistent(
        make_server: Callable[..., Server]) -> None:
    srv = make_server({"HTS_FILL_PARTICIPATION": "0.3"}).start()
    tokens = [srv.add_user(f"conc{i}") for i in range(6)]
    with ThreadPoolExecutor(len(tokens)) as pool:
        results = list(pool.map(lambda it: _trade(srv, it[1], it[0]), enumerate(tokens)))
    assert sum(len(r) for r in results) > 60
    for token, ids in zip(tokens, results, strict=True):
        for order_id in ids:
            _status, order, _ = srv.http("GET", f"/api/orders/{order_id}", token=token)
            if order["status"] not in FINAL:
                srv.http("DELETE", f"/api/orders/{order_id}", token=token)
        cash = INITIAL
        realized = fees = taxes = 0
        lots: dict[str, tuple[int, int]] = {}  # symbol -> (quantity, cost)
        _, orders, _ = srv.http("GET", "/api/orders", token=token)
        assert {o["order_id"] for o in orders} == set(ids)
        fills_by_time = []
        for o in orders:
            final = wait_order(srv, token, o["order_id"])
            fills = fills_of(srv, token, o["order_id"], o["side"])  # fee and tax by hand
            assert sum(f["quantity"] for f in fills) == final["filled_quantity"]
            assert final["fees"] == sum(f["fee"] + f["tax"] for f in fills)
            fills_by_time += [(f["fill_id"], o["side"], o["symbol"], f["quantity"], f["price"],
                               f["fee"], f["tax"]) for f in fills]
        for _, side, symbol, qty, px, fee, tax in sorted(fills_by_time):
            held, cost = lots.get(symbol, (0, 0))
            fees += fee
            taxes += tax
            if side == "buy":
                cash -= qty * px + fee
                lots[symbol] = (held + qty, cost + qty * px + fee)
            else:
                out = cost if qty == held else cost * qty // held
                cash += qty * px - fee - tax
                realized += qty * px - fee - tax - out
                lots[symbol] = (held - qty, cost - out)
        acc = account(srv, token)
        assert acc["cash"] == cash
        assert acc["reserved_cash"] == 0
        assert acc["realized_pnl"] == realized
        assert acc["fees_paid"] == fees and acc["taxes_paid"] == taxes
        positions = {p["symbol"]: (p["quantity"], p["cost"]) for p in acc["positions"]}
        assert positions == {s: v for s, v in lots.items() if v[0] > 0}
        assert all(p["available_quantity"] == p["quantity"] for p in acc["positions"])
        assert acc["total_value"] == cash + sum(p["market_value"] for p in acc["positions"])
