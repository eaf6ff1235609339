"""``client_order_id``: the client's own id for an order, accepted by ``POST /api/orders``
and echoed on the answer, every view and every ``order_update`` of the order (an
amendment's replacement keeps it), on one process and through a gateway."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster import ROLES, front
from tests.support import Client, Server


@pytest.fixture(scope="module", params=ROLES)
def srv(request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = front(str(request.param), tmp_path_factory.mktemp(f"coid-{request.param}"))
    yield server.start()
    server.stop()


async def test_client_order_id_is_echoed_everywhere(srv: Server) -> None:
    token = srv.add_user("cora", "cora-pass")
    sock = Client()
    await sock.connect(srv.url, auth={"token": token, "topics": ["order:*"]})
    await sock.wait_for("connected")
    try:
        body = {"symbol": "005930", "side": "buy", "order_type": "market", "quantity": 1,
                "client_order_id": "bot-7/alpha"}
        status, order, _ = srv.http("POST", "/api/orders", body, token=token)
        assert status == 201 and order["client_order_id"] == "bot-7/alpha", order
        updates = await sock.wait_for("order_update")
        assert all(u["data"]["client_order_id"] == "bot-7/alpha" for u in updates), updates
        status, again, _ = srv.http("GET", f"/api/orders/{order['order_id']}", token=token)
        assert status == 200 and again["client_order_id"] == "bot-7/alpha"
        # an amendment's replacement keeps the client's id
        price = 52_500  # the lower limit: it rests
        status, limit, _ = srv.http("POST", "/api/orders", {
            "symbol": "005930", "side": "buy", "order_type": "limit", "quantity": 2,
            "price": price, "client_order_id": "grid-1"}, token=token)
        assert status == 201, limit
        status, amended, _ = srv.http("POST", f"/api/orders/{limit['order_id']}/amend",
                                      {"quantity": 1}, token=token)
        assert status == 201 and amended["client_order_id"] == "grid-1", amended
        # none given: null; a bad one: refused, nothing placed
        status, plain, _ = srv.http("POST", "/api/orders", {**body, "client_order_id": None},
                                    token=token)
        assert status == 201 and plain["client_order_id"] is None
        for bad in ("", "x" * 65, 7):
            status, refused, _ = srv.http("POST", "/api/orders",
                                          {**body, "client_order_id": bad}, token=token)
            assert (status, refused["error"]["code"]) == (400, "invalid_message"), refused
    finally:
        await sock.disconnect()
