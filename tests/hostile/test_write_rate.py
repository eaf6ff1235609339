"""One user flooding the journal with order and strategy writes is slowed down.

Every route that writes the private journal (place, amend, cancel, strategy create,
start, stop, delete) takes from the same per-user budget; past it, 429
``rate_limited`` with ``Retry-After``, nothing written. Reads and other
users are not affected.
"""

from __future__ import annotations

from collections.abc import Callable

from hts_realtime.domain.krx import price_limits
from tests.hostile.identity import db_rows
from tests.support import Server

LOWER = price_limits(75_000)[0]  # a resting limit buy on 005930 that never fills


def test_journal_writes_are_rate_limited_per_user(make_server: Callable[..., Server]) -> None:
    srv = make_server({"HTS_WRITE_RATE_BURST": "3", "HTS_WRITE_RATE_PER_SECOND": "0.01"}).start()
    flooder, other = srv.add_user("flooder"), srv.add_user("calm")
    order = {"symbol": "005930", "side": "buy", "quantity": 1, "order_type": "limit",
             "price": LOWER}
    ids = []
    for _ in range(3):
        status, body, _ = srv.http("POST", "/api/orders", order, token=flooder)
        assert status == 201, body
        ids.append(body["order_id"])
    writes = [
        ("POST", "/api/orders", order),
        ("POST", f"/api/orders/{ids[0]}/amend", {"quantity": 2}),  # 정정 is a new order
        ("POST", "/api/strategies", {"kind": "rsi", "symbol": "005930", "quantity": 1}),
        ("POST", "/api/strategies/S1/start", None),
        ("POST", "/api/strategies/S1/stop", None),
        ("DELETE", "/api/strategies/S1", None),
    ]
    for method, path, body in writes:
        status, resp, headers = srv.http(method, path, body, token=flooder)
        assert (status, resp["error"]["code"]) == (429, "rate_limited"), (method, path, resp)
        assert int(headers["Retry-After"]) >= 1
    # cancels have a budget of their own: a client throttled on placing can still cancel
    for order_id in ids:
        status, body, _ = srv.http("DELETE", f"/api/orders/{order_id}", token=flooder)
        assert status == 200, body
    status, resp, headers = srv.http("DELETE", f"/api/orders/{ids[0]}", token=flooder)
    assert (status, resp["error"]["code"]) == (429, "rate_limited"), resp
    assert int(headers["Retry-After"]) >= 1
    (events,) = db_rows(srv, "SELECT COUNT(*) FROM events e JOIN users u "
                             "ON e.user_id = CAST(u.id AS TEXT) WHERE u.username = 'flooder'")
    assert events == (6,), "a refused write reached the journal"
    status, orders, _ = srv.http("GET", "/api/orders", token=flooder)
    assert status == 200 and len(orders) == 3  # reads are not limited
    status, body, _ = srv.http("POST", "/api/orders", order, token=other)
    assert status == 201, body  # another user has its own budget
    _, report, _ = srv.http("GET", "/api/ws/status", token=srv.login("admin", "adminpass"))
    assert report["limits"]["write_rate_burst"] == 3
    assert report["limits"]["login_failures_per_username"] == 5
    assert report["auth"]["writes_refused"] == len(writes) + 1


def test_the_default_budget_lets_a_bot_place_a_basket_at_once(server: Server) -> None:
    # 100 orders and 100 cancels back to back: a program trader's basket, well-behaved
    token = server.add_user("basket")
    order = {"symbol": "005930", "side": "buy", "quantity": 1, "order_type": "limit",
             "price": LOWER}
    for _ in range(100):
        status, body, _ = server.http("POST", "/api/orders", order, token=token)
        assert status == 201, body
        status, body, _ = server.http("DELETE", f"/api/orders/{body['order_id']}", token=token)
        assert status == 200, body


def test_watchlist_writes_have_a_budget_per_user(make_server: Callable[..., Server]) -> None:
    """The audit: 400 watchlist commits in 0.4 s from one user. PUT /api/watchlist has a
    budget of its own, the size of the journal writes' (so a throttled watchlist does
    not stop orders, nor the reverse)."""
    srv = make_server({"HTS_WRITE_RATE_BURST": "3", "HTS_WRITE_RATE_PER_SECOND": "0.01"}).start()
    token, other = srv.add_user("fidget"), srv.add_user("steady")
    for symbols in (["005930"], ["000660"], ["035420"]):
        status, body, _ = srv.http("PUT", "/api/watchlist", {"symbols": symbols}, token=token)
        assert status == 200, body
    status, resp, headers = srv.http("PUT", "/api/watchlist", {"symbols": ["005380"]},
                                     token=token)
    assert (status, resp["error"]["code"]) == (429, "rate_limited"), resp
    assert int(headers["Retry-After"]) >= 1
    status, body, _ = srv.http("GET", "/api/watchlist", token=token)
    assert body["symbols"] == ["035420"], "the refused write changed nothing"
    order = {"symbol": "005930", "side": "buy", "quantity": 1, "order_type": "limit",
             "price": LOWER}
    status, body, _ = srv.http("POST", "/api/orders", order, token=token)
    assert status == 201, body  # orders have their own budget
    status, body, _ = srv.http("PUT", "/api/watchlist", {"symbols": ["005930"]}, token=other)
    assert status == 200, body  # another user has its own
