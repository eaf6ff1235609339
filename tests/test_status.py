"""GET /api/ws/status, /healthz and /api/symbols."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.support import Client, Server


def test_status_needs_a_token(server: Server) -> None:
    status, body, _ = server.http("GET", "/api/ws/status")
    assert status == 401 and body["error"]["code"] == "auth_required"
    status, body, _ = server.http("GET", "/api/ws/status", token="garbage")
    assert status == 401 and body["error"]["code"] == "auth_failed"


def test_status_is_for_admins_only(server: Server, token: str) -> None:
    status, body, _ = server.http("GET", "/api/ws/status", token=token)
    assert status == 403 and body["error"]["code"] == "forbidden"


async def test_status_reports_connections_subscriptions_and_the_streamer(
        make_server: Callable[..., Server], clients: Callable[[], Client]) -> None:
    srv = make_server().start()
    admin = srv.login("admin", "adminpass")
    status, body, _ = srv.http("GET", "/api/ws/status", token=admin)
    assert status == 200
    assert body["active_connections"] == 0 and body["active_users"] == []
    assert body["subscriptions"] == {} and body["price_streamer_running"] is False

    c = await clients().connect(srv.url, auth={"token": srv.login()})
    await c.wait_for("connected")
    assert (await c.call("subscribe", {"topic": "price:005930"}))["ok"]
    _, body, _ = srv.http("GET", "/api/ws/status", token=admin)
    assert body["active_connections"] == 1
    assert body["active_users"] == ["1"]
    assert body["subscriptions"] == {"price:005930": ["1"]}
    assert body["price_streamer_running"] is True
    await c.wait_for("price_update")
    _, body, _ = srv.http("GET", "/api/ws/status", token=admin)
    assert body["sent"]["broadcast"] >= 1 and body["sent"]["price_ticks"] >= 1
    assert body["sent"]["private"] == 0

    # auto-stop: the streamer ends once nobody listens
    assert (await c.call("unsubscribe", {"topic": "price:005930"}))["ok"]
    for _ in range(40):
        _, body, _ = srv.http("GET", "/api/ws/status", token=admin)
        if not body["price_streamer_running"]:
            break
        await asyncio.sleep(0.1)
    assert body["price_streamer_running"] is False
    assert body["subscriptions"] == {}
    await c.disconnect()
    for _ in range(40):
        _, body, _ = srv.http("GET", "/api/ws/status", token=admin)
        if body["active_connections"] == 0:
            break
        await asyncio.sleep(0.05)
    assert body["active_connections"] == 0 and body["active_users"] == []


def test_healthz_and_symbols(server: Server) -> None:
    status, _body, _ = server.http("GET", "/healthz")
    assert status == 200
    status, symbols, _ = server.http("GET", "/api/symbols")
    assert status == 200 and len(symbols) >= 30
    assert {"symbol": "005930", "name": "삼성전자", "prev_close": 75_000}.items() <= \
        symbols[0].items()


def test_unknown_routes_answer_json_errors(server: Server) -> None:
    status, body, _ = server.http("GET", "/api/nothing-here")
    assert status == 404 and body["error"]["code"] == "not_found"
