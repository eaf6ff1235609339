"""``GET /api/orders``: 미체결 / 체결 / 전체 views, one KST day or all, keyset paging.

Against both roles with the same surface: one process, and a gateway forwarding the
public API to an engine.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hts_realtime.domain.krx import price_limits
from hts_realtime.domain.market_hours import KST
from tests.cluster import ROLES, module_front
from tests.support import Server
from tests.trading import place, wait_order

LOWER, UPPER = price_limits(75_000)


@pytest.fixture(scope="module", params=ROLES)
def front(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = module_front(tmp_path_factory, "views", request.param, {})
    yield srv
    srv.stop()


def orders(srv: Server, token: str, query: str = "") -> dict[str, Any]:
    """One page: the body (an array, as ever) and the next page's cursor and link."""
    status, body, headers = srv.http("GET", f"/api/orders{query}", token=token)
    assert status == 200, body
    assert isinstance(body, list)
    assert ("X-Next-Cursor" in headers) == ("Link" in headers)
    return {"orders": body, "next_cursor": headers.get("X-Next-Cursor"),
            "link": headers.get("Link")}


def ids(page: dict[str, Any]) -> list[str]:
    return [o["order_id"] for o in page["orders"]]


def test_views_show_open_filled_and_all_with_every_money_column(front: Server) -> None:
    token = front.add_user("viewer")
    resting = place(front, token, order_type="limit", price=LOWER, quantity=3)
    cancelled = place(front, token, order_type="limit", price=LOWER, quantity=2)
    front.http("DELETE", f"/api/orders/{cancelled['order_id']}", token=token)
    filled = wait_order(front, token, place(front, token, quantity=1)["order_id"])
    assert filled["status"] == "filled"

    every = orders(front, token)
    assert ids(every) == [filled["order_id"], cancelled["order_id"], resting["order_id"]]
    assert every["next_cursor"] is None and every["link"] is None
    assert ids(orders(front, token, "?view=all&day=today")) == ids(every)
    assert ids(orders(front, token, "?view=open")) == [resting["order_id"]]
    assert ids(orders(front, token, "?view=filled")) == [filled["order_id"]]
    assert ids(orders(front, token, "?view=all&status=cancelled")) == [cancelled["order_id"]]

    row = orders(front, token, "?view=filled")["orders"][0]
    # 주문가 (null: market), 체결가 (average), 시각, 유형, 수량
    assert row["price"] is None and row["order_type"] == "market"
    assert row["filled_price"] == filled["filled_price"] > 0
    assert datetime.fromisoformat(row["created_at"]).tzinfo is not None
    assert (row["quantity"], row["filled_quantity"], row["remaining_quantity"]) == (1, 1, 0)
    row = orders(front, token, "?view=open")["orders"][0]
    assert (row["price"], row["order_type"], row["filled_price"]) == (LOWER, "limit", None)


def test_pages_follow_the_cursor_and_new_orders_do_not_shift_them(front: Server) -> None:
    token = front.add_user("pager")
    placed = [place(front, token, order_type="limit", price=LOWER, quantity=1)["order_id"]
              for _ in range(7)]
    newest_first = placed[::-1]
    seen: list[str] = []
    page = orders(front, token, "?view=open&day=today&limit=3")
    followed = orders(front, token, "?view=open&day=today&limit=3")
    while True:
        seen += ids(page)
        assert len(ids(page)) <= 3
        # orders placed between pages sort newest: never on a later page
        place(front, token, order_type="limit", price=LOWER, quantity=1)
        if page["next_cursor"] is None:
            assert page["link"] is None
            break
        # the Link header is the same query with the cursor: following it is the same
        link = followed["link"]
        assert link.startswith("</api/orders?") and link.endswith('>; rel="next"'), link
        followed = orders(front, token, link[len("</api/orders"):-len('>; rel="next"')])
        page = orders(front, token,
                      f"?view=open&day=today&limit=3&cursor={page['next_cursor']}")
        assert ids(followed) == ids(page)
    assert seen == newest_first
    assert len(ids(orders(front, token, "?view=open"))) == 7 + 3


def test_another_day_or_every_day(front: Server) -> None:
    token = front.add_user("historian")
    today = place(front, token, order_type="limit", price=LOWER, quantity=1)
    front.http("DELETE", f"/api/orders/{today['order_id']}", token=token)
    # an order of the day before, as the database keeps it (created_at in UTC)
    now = datetime.now(KST)
    yesterday = now - timedelta(days=1)
    old_id = "ORDYESTERDAY0001"
    with sqlite3.connect(front.database) as db:
        user_id = db.execute("SELECT user_id FROM orders WHERE order_id = ?",
                             (today["order_id"],)).fetchone()[0]
        db.execute("INSERT INTO orders (order_id, user_id, symbol, side, order_type, quantity,"
                   " price, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                   (old_id, user_id, "005930", "buy", "limit", 1, LOWER,
                    "cancelled", _utc(yesterday), _utc(yesterday)))
    assert ids(orders(front, token, "?day=today")) == [today["order_id"]]
    day = yesterday.date().isoformat()
    assert ids(orders(front, token, f"?day={day}")) == [old_id]
    # every day: with ?day=all, and without parameters, as the route always answered
    assert ids(orders(front, token, "?day=all")) == [today["order_id"], old_id]
    assert ids(orders(front, token)) == [today["order_id"], old_id]
    assert orders(front, token, "?day=2001-01-01")["orders"] == []


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@pytest.mark.parametrize("query", [
    "?view=pending", "?view=", "?day=yesterday", "?day=2026-13-01", "?day=2026-02-30",
    "?day=0001-01-01", "?day=9999-12-31",
    "?limit=0", "?limit=501", "?limit=ten", "?limit=1.5", "?cursor=notacursor",
    "?cursor=" + "A" * 300, "?status=sideways", "?page=2",
])
def test_bad_parameters_are_refused(front: Server, query: str) -> None:
    token = front.login("testuser", "testpass")
    status, body, _ = front.http("GET", f"/api/orders{query}", token=token)
    assert status == 400 and body["error"]["code"] == "invalid_message", (query, body)
    assert body["error"]["message"]
