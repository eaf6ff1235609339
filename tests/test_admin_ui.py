"""The Socket.IO Admin UI (``HTS_ADMIN_UI``) against a real ``socket.io-client``, on every
role's edge: an admin on ``/admin`` sees the server's stats, a client's socket, its rooms
and the events it sent and was sent (fan-out's too), never its token; a wrong or missing
password is refused; an ordinary client on the same server is unaffected."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster import ROLES, module_front
from tests.support import Server
from tests.test_node_client import run_node

ADMIN = {"username": "ops", "password": "an-admin-password-of-length"}
SYMBOL = "005930"


@pytest.fixture(scope="module", params=ROLES)
def admin_server(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = module_front(tmp_path_factory, "admin-ui", request.param, {
        "HTS_ADMIN_UI": "1", "HTS_ADMIN_UI_USERNAME": ADMIN["username"],
        "HTS_ADMIN_UI_PASSWORD": ADMIN["password"]})
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def seen(admin_server: Server) -> dict[str, Any]:
    token = admin_server.login()
    out = run_node("admin_ui.mjs", {"url": admin_server.url, "token": token, "auth": ADMIN,
                                    "symbol": SYMBOL})
    out["token"] = token
    return out


def test_an_ordinary_client_is_unaffected(seen: dict[str, Any]) -> None:
    assert seen["subscribe_ack"] == {"ok": True, "topics": [f"price:{SYMBOL}"]}
    assert seen["ping_ack"]["ok"] is True and seen["ping_ack"]["timestamp"] == 7
    assert seen["client_prices"] >= 2
    assert seen["polling_ping_ack"]["ok"] is True and seen["polling_ping_ack"]["timestamp"] == 8


def test_the_admin_sees_stats_and_the_clients_socket(seen: dict[str, Any]) -> None:
    features = seen["config"][0]["supportedFeatures"]
    assert "ALL_EVENTS" in features and "EMIT" not in features  # read-only
    stats = seen["server_stats"][-1]
    assert stats["clientsCount"] >= 1 and any(n["name"] == "/" for n in stats["namespaces"])
    sock = seen["socket_connected"][0][0]
    assert sock["nsp"] == "/" and sock["transport"] == "websocket"
    assert sock["handshake"]["address"] == "127.0.0.1" and sock["handshake"]["issued"] > 0
    assert seen["socket_disconnected"], "the admin is told the socket left"
    # the client refused for its bad token was never shown as a socket
    assert seen["refused_client"]["connected"] is False
    assert set(seen["sockets_shown"]) == {seen["client_id"], seen["polling_id"]}


def test_the_admin_sees_rooms_and_what_the_send_path_sent(seen: dict[str, Any]) -> None:
    cid = seen["client_id"]
    assert ["/", f"price:{SYMBOL}", cid] == seen["room_joined"][0][:3]
    # fan-out writes into the connection's outbox, not through sio.emit: the tap shows it
    sent = {d[2][0] for d in seen["event_sent"]}
    assert {"connected", "price_update"} <= sent, sent
    update = next(d[2][1] for d in seen["event_sent"] if d[2][0] == "price_update")
    assert update["symbol"] == SYMBOL and isinstance(update["data"]["price"], int)
    assert next(d[2] for d in seen["event_received"] if d[2][0] == "ping") == [
        "ping", {"timestamp": 7}]


def test_no_token_reaches_the_admin(seen: dict[str, Any]) -> None:
    shown = repr({k: v for k, v in seen.items() if k != "token"})
    assert seen["token"] not in shown
    assert not re.search(r"eyJ[\w-]+\.[\w-]+\.", shown), "a JWT reached the admin"
    query = seen["socket_connected"][0][0]["handshake"]["query"]
    assert query["token"] == "[redacted]"


def test_a_wrong_or_missing_password_is_refused(seen: dict[str, Any],
                                                admin_server: Server) -> None:
    assert seen["wrong"] == {"connected": False, "message": "authentication failed"}
    assert seen["none"] == {"connected": False, "message": "authentication failed"}
    log = admin_server.log()
    assert "not-the-password" not in log and ADMIN["password"] not in log


def test_the_status_reports_the_admin_ui(seen: dict[str, Any], admin_server: Server) -> None:
    status, body, _ = admin_server.http("GET", "/api/ws/status",
                                        token=admin_server.login("admin", "adminpass"))
    assert status == 200, body
    admin_ui = body["admin_ui"]
    assert admin_ui["mode"] == "development" and admin_ui["refused"] >= 2
    assert admin_ui["tapped"] > 0 and admin_ui["admins"] == 0
