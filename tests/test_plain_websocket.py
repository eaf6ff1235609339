"""The seed's plain WebSocket at /api/ws: its protocol, auth, limits and hostile input,
against a real server, beside Socket.IO clients on the same core."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from hts_realtime.domain.krx import price_limits
from tests.plainws import WsClient, ws_url
from tests.support import Client, Server, TcpProxy, mint
from tests.trading import place, wait_order

LOWER, _ = price_limits(75_000)


@pytest.fixture
async def ws_clients() -> AsyncIterator[Callable[[], WsClient]]:
    made: list[WsClient] = []

    def make() -> WsClient:
        c = WsClient()
        made.append(c)
        return c

    yield make
    for c in made:
        await c.close()


_ADMIN: dict[str, str] = {}


def status(server: Server) -> dict[str, Any]:
    if server.url not in _ADMIN:  # one login per server: scrypt is deliberately slow
        _ADMIN[server.url] = server.login("admin", "adminpass")
    code, body, _ = server.http("GET", "/api/ws/status", token=_ADMIN[server.url])
    assert code == 200, body
    return dict(body)


async def until_no_connections(server: Server, timeout: float = 15.0,
                               transport: str | None = None) -> dict[str, Any]:
    """Until the server (or, with ``transport``, that kind of connection) has none left:
    a shared server may still hold other tests' Socket.IO clients."""
    deadline = time.monotonic() + timeout
    while True:
        body = status(server)
        left = (body["active_connections"] if transport is None
                else body["connections_by_transport"][transport])
        if left == 0:
            return body
        assert time.monotonic() < deadline, f"connections left: {body}"
        await asyncio.sleep(0.1)


# -- the seed's protocol ------------------------------------------------------------------
async def test_the_seed_session(server: Server, token: str,
                                ws_clients: Callable[[], WsClient]) -> None:
    c = await ws_clients().connect(server.url, f"?token={token}")
    await c.send({"type": "subscribe", "topic": "price:005930"})
    await c.send({"type": "get_price", "symbol": "005930"})
    await c.send({"type": "get_account"})
    await c.send({"type": "ping", "timestamp": "2024-01-01T00:00:00"})
    await c.wait_for("price_update", 2, timeout=15)
    hello = c.order[0]
    assert {k: hello[k] for k in ("type", "message", "user_id")} == {
        "type": "connected", "message": "Welcome testuser!", "user_id": "1"}
    assert c.events["subscribed"] == [{"type": "subscribed", "topic": "price:005930",
                                       "message": "Successfully subscribed to price:005930"}]
    (price,) = c.events["price"]
    assert price["symbol"] == "005930" and isinstance(price["data"]["price"], int)
    assert set(c.events["account"][0]["data"]) >= {"cash", "positions", "total_value"}
    assert c.events["pong"][0]["timestamp"] == "2024-01-01T00:00:00"
    # replies come in request order, after `connected` (price updates may interleave:
    # the streamer ticks at once for a first subscriber)
    assert [m["type"] for m in c.order if m["type"] != "price_update"][:5] == [
        "connected", "subscribed", "price", "account", "pong"]
    update = c.events["price_update"][0]
    assert update["symbol"] == "005930"
    assert set(update["data"]) == {"price", "change", "change_percent", "volume", "timestamp"}
    await c.send({"type": "unsubscribe", "topic": "price:005930"})
    (unsub,) = await c.wait_for("unsubscribed")
    assert unsub == {"type": "unsubscribed", "topic": "price:005930",
                     "message": "Successfully unsubscribed from price:005930"}


async def test_request_id_is_echoed_on_the_reply_and_on_errors(
        server: Server, token: str, ws_clients: Callable[[], WsClient]) -> None:
    c = await ws_clients().connect(server.url, f"?token={token}")
    await c.wait_for("connected")
    await c.send({"type": "subscribe", "topics": ["price:005930", "price:000660"],
                  "request_id": 7})
    subs = await c.wait_for("subscribed", 2)
    assert [(s["topic"], s["request_id"]) for s in subs] == [
        ("price:005930", 7), ("price:000660", 7)]
    reply = await c.request({"type": "get_price", "symbol": "999999"}, "price")
    assert reply["type"] == "error" and reply["code"] == "unknown_symbol"
    assert reply["event"] == "get_price"
    reply = await c.request({"type": "get_price", "symbol": "005930"}, "price")
    assert reply["type"] == "price" and reply["symbol"] == "005930"
    # a request_id that is neither a short string nor an integer is refused, not echoed
    await c.send({"type": "ping", "request_id": {"x": 1}})
    err = (await c.wait_for("error", 2))[1]
    assert err["code"] == "invalid_message" and "request_id" not in err
    # price broadcasts never carry a request_id
    (update, *_) = await c.wait_for("price_update", timeout=15)
    assert "request_id" not in update


async def test_same_permissions_and_limits_as_socketio(
        make_server: Callable[..., Server], ws_clients: Callable[[], WsClient]) -> None:
    srv = make_server({"HTS_MAX_SUBSCRIPTIONS": "2", "HTS_RATE_LIMIT_PER_SECOND": "1",
                       "HTS_RATE_LIMIT_BURST": "8"}).start()
    alice, bob = srv.add_user("alice_ws"), srv.add_user("bob_ws")
    order = place(srv, alice, order_type="limit", price=LOWER)
    c = await ws_clients().connect(srv.url, f"?token={bob}")
    await c.wait_for("connected")
    r = await c.request({"type": "subscribe", "topic": f"order:{order['order_id']}"},
                        "subscribed")
    assert r["code"] == "not_found"
    r = await c.request({"type": "subscribe", "topic": "price:nope"}, "subscribed")
    assert r["code"] == "unknown_symbol"
    r = await c.request({"type": "subscribe", "topic": "bogus"}, "subscribed")
    assert r["code"] == "invalid_topic"
    r = await c.request({"type": "subscribe",
                         "topics": ["price:005930", "price:000660", "order:*"]}, "subscribed")
    assert r["code"] == "subscription_limit"
    r = await c.request({"type": "subscribe", "topic": "price:005930", "extra": 1}, "subscribed")
    assert r["code"] == "invalid_message"
    codes = [(await c.request({"type": "ping"}, "pong"))["type"] for _ in range(6)]
    assert "error" in codes
    assert c.events["error"][-1]["code"] == "rate_limited"
    assert not c.closed.is_set()


# -- auth -----------------------------------------------------------------------------------
async def test_token_in_the_header_or_in_a_first_auth_message(
        server: Server, token: str, ws_clients: Callable[[], WsClient]) -> None:
    h = await ws_clients().connect(server.url, headers={"Authorization": f"Bearer {token}"})
    assert (await h.wait_for("connected"))[0]["user_id"] == "1"
    m = await ws_clients().connect(server.url, first={
        "type": "auth", "token": token, "topics": ["price:005930"]})
    (hello,) = await m.wait_for("connected")
    assert hello["user_id"] == "1" and hello["topics"] == ["price:005930"]
    await m.wait_for("price_update", timeout=15)
    # once authenticated, another auth message is an error, not a second identity
    admin = server.login("admin", "adminpass")
    r = await m.request({"type": "auth", "token": admin}, "connected")
    assert r["type"] == "error" and r["code"] == "invalid_message"
    assert len(m.events["connected"]) == 1


@pytest.mark.parametrize(("how", "code", "reason"), [
    ("bad_query", 4401, "auth_failed"),
    ("expired", 4401, "token_expired"),
    ("bad_message", 4401, "auth_failed"),
    ("not_auth_first", 4401, "auth_required"),
    ("not_json_first", 4401, "auth_required"),
    ("bad_topic", 4400, "invalid_topic"),
    ("bad_last_seq", 4400, "invalid_message"),
])
async def test_refusals_close_with_a_code_and_the_error_code_as_reason(
        server: Server, token: str, ws_clients: Callable[[], WsClient],
        how: str, code: int, reason: str) -> None:
    c = ws_clients()
    if how == "bad_query":
        await c.connect(server.url, "?token=garbage")
    elif how == "expired":
        await c.connect(server.url, "?token=" + mint(exp=int(time.time()) - 60))
    elif how == "bad_message":
        await c.connect(server.url, first={"type": "auth", "token": mint(secret="x" * 40)})
    elif how == "not_auth_first":
        await c.connect(server.url, first={"type": "subscribe", "topic": "price:005930"})
    elif how == "not_json_first":
        await c.connect(server.url, first="hello")  # type: ignore[arg-type]
    elif how == "bad_topic":
        await c.connect(server.url, f"?token={token}&topics=price:005930,nope:1")
    else:
        await c.connect(server.url, f"?token={token}&last_seq=abc")
    assert await c.wait_closed() == code
    assert c.close_reason == reason
    (err,) = c.events["error"]
    assert err["code"] == reason and err["message"]
    assert not c.events["connected"]


async def test_no_auth_message_within_the_deadline_closes(
        make_server: Callable[..., Server], ws_clients: Callable[[], WsClient]) -> None:
    srv = make_server({"HTS_CONNECT_TIMEOUT_SECONDS": "0.5"}).start()
    c = await ws_clients().connect(srv.url)
    assert await c.wait_closed() == 4401
    assert c.close_reason == "auth_required"
    await until_no_connections(srv)


# -- hostile input --------------------------------------------------------------------------
async def test_bad_input_is_answered_and_never_kills_the_server(
        server: Server, token: str, ws_clients: Callable[[], WsClient]) -> None:
    user = server.add_user("hostile_ws")
    c = await ws_clients().connect(server.url, f"?token={user}")
    await c.wait_for("connected")
    await c.send("{not json")
    await c.send("[1, 2]")
    await c.send("42")
    await c.send({"type": "no_such_thing"})
    await c.send({"topic": "price:005930"})
    await c.send({"type": 5})
    assert c.ws is not None
    await c.ws.send_bytes(b"\x00\xff binary")
    await c.send({"type": "ping", "request_id": "after"})
    (pong,) = await c.wait_for("pong")
    assert pong["request_id"] == "after"
    errors = c.events["error"]
    assert [(e["code"], e["message"]) for e in errors[:3]] == [
        ("invalid_message", "Invalid JSON format"),
        ("invalid_message", 'a message is a JSON object with a "type"'),
        ("invalid_message", 'a message is a JSON object with a "type"'),
    ]
    assert [e["code"] for e in errors[3:]] == [
        "unknown_event", "invalid_message", "invalid_message", "invalid_message"]
    assert errors[3]["event"] == "no_such_thing"
    assert "binary" in errors[6]["message"]
    # a 1 MB frame (the limit is HTS_MAX_PAYLOAD_BYTES) closes with 1009, message too big
    await c.send('{"type":"ping","timestamp":"' + "x" * (1 << 20) + '"}')
    assert await c.wait_closed() == 1009
    # others are unaffected, and every connection is accounted for
    other = await ws_clients().connect(server.url, f"?token={token}")
    assert (await other.request({"type": "ping"}, "pong"))["type"] == "pong"
    await other.close()
    await until_no_connections(server, transport="websocket")  # every one accounted for


# -- the same core as Socket.IO ----------------------------------------------------------------
async def test_status_counts_both_kinds_of_connection(
        make_server: Callable[..., Server], clients: Callable[[], Client],
        ws_clients: Callable[[], WsClient]) -> None:
    srv = make_server().start()
    tok = srv.login()
    sio = await clients().connect(srv.url, auth={"token": tok, "topics": ["price:005930"]})
    await sio.wait_for("connected")
    ws = await ws_clients().connect(srv.url, f"?token={tok}&topics=price:000660,order:*")
    await ws.wait_for("connected")
    body = status(srv)
    assert body["active_connections"] == 2
    assert body["connections_by_transport"] == {"socketio": 1, "websocket": 1}
    assert body["active_users"] == ["1"]
    assert body["subscriptions"] == {"order:*": ["1"], "price:000660": ["1"],
                                     "price:005930": ["1"]}
    await ws.wait_for("price_update", timeout=15)
    await sio.wait_for("price_update", timeout=15)
    assert {u["symbol"] for u in ws.events["price_update"]} == {"000660"}
    await ws.close()
    await sio.disconnect()
    await until_no_connections(srv)


async def test_a_fill_reaches_a_plain_websocket_and_a_socketio_client_alike(
        server: Server, clients: Callable[[], Client],
        ws_clients: Callable[[], WsClient]) -> None:
    tok = server.add_user("both_kinds")
    sio = await clients().connect(server.url, auth={"token": tok, "topics": ["order:*"]})
    ws = await ws_clients().connect(server.url, f"?token={tok}")
    await sio.wait_for("connected")
    await ws.wait_for("connected")
    reply = await ws.request({"type": "subscribe", "topic": "order:*"}, "subscribed")
    assert reply["type"] == "subscribed" and reply["topic"] == "order:*"
    order = place(server, tok, quantity=3)
    wait_order(server, tok, order["order_id"])
    final = 0
    while not final:
        got = await ws.wait_for("order_update", len(ws.events["order_update"]) + 1)
        final = sum(1 for u in got if u["data"]["status"] == "filled")
    await sio.wait_for("order_update", len(ws.events["order_update"]))
    assert ws.events["order_update"] == sio.events["order_update"]
    seqs = [u["seq"] for u in ws.events["order_update"]]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_resume_over_a_cut_connection_loses_nothing(
        server: Server, ws_clients: Callable[[], WsClient]) -> None:
    tok = server.add_user("ws_mobile")
    proxy = await TcpProxy(server.port).start()
    first = await ws_clients().connect(proxy.url, first={
        "type": "auth", "token": tok, "topics": ["order:*"]})
    await first.wait_for("connected")
    o1 = place(server, tok, quantity=1)
    wait_order(server, tok, o1["order_id"])
    while not any(u["data"]["status"] == "filled" for u in first.events["order_update"]):
        await first.wait_for("order_update", len(first.events["order_update"]) + 1)
    last_seq = max(u["seq"] for u in first.events["order_update"])

    proxy.cut()  # RST: no close frame either way
    assert await first.wait_closed() is not None
    away = [place(server, tok, quantity=q) for q in (2, 3)]
    resting = place(server, tok, order_type="limit", price=LOWER, quantity=1)
    server.http("DELETE", f"/api/orders/{resting['order_id']}", token=tok)
    for o in away:
        wait_order(server, tok, o["order_id"])

    second = await ws_clients().connect(
        proxy.url, f"?token={tok}&topics=order:*&last_seq={last_seq}")
    (hello,) = await second.wait_for("connected")
    head = hello["last_seq"]
    assert head > last_seq
    replayed = await second.wait_for("order_update", head - last_seq)
    assert [u["seq"] for u in replayed] == list(range(last_seq + 1, head + 1))
    assert second.order[0]["type"] == "connected"
    live = place(server, tok, quantity=1)
    wait_order(server, tok, live["order_id"])
    while not any(u["data"]["order_id"] == live["order_id"] and u["data"]["status"] == "filled"
                  for u in second.events["order_update"]):
        await second.wait_for("order_update", len(second.events["order_update"]) + 1)
    got = [u["seq"] for u in second.events["order_update"]]
    assert got == list(range(last_seq + 1, last_seq + 1 + len(got)))
    await proxy.close()


async def test_resume_from_the_future_asks_for_resync(
        server: Server, ws_clients: Callable[[], WsClient]) -> None:
    tok = server.add_user("ws_resync")
    c = await ws_clients().connect(server.url, first={
        "type": "auth", "token": tok, "topics": ["order:*"], "last_seq": 99})
    (resync,) = await c.wait_for("resync_required")
    assert resync == {"type": "resync_required", "code": "resync_required", "last_seq": 0}


# -- liveness ---------------------------------------------------------------------------------
async def test_a_dead_peer_is_noticed_by_the_heartbeat(
        make_server: Callable[..., Server]) -> None:
    srv = make_server({"HTS_WS_HEARTBEAT_SECONDS": "2"}).start()
    tok = srv.login()
    proxy = await TcpProxy(srv.port).start()
    async with aiohttp.ClientSession() as s, s.ws_connect(
            ws_url(proxy.url, f"?token={tok}"), autoping=True) as ws:
        assert "connected" in (await ws.receive()).data
        # pings are answered while the link is up: still connected after a few periods
        probe = await ws.send_str('{"type":"ping","request_id":1}')
        assert probe is None
        for _ in range(10):
            msg = await ws.receive(timeout=5)
            if '"pong"' in msg.data:
                break
        assert status(srv)["active_connections"] == 1
        proxy.blackhole()  # the radio dies: no FIN, no RST, nothing
        await until_no_connections(srv, timeout=10)
    await proxy.close()


async def test_shutdown_closes_plain_websockets_as_going_away(
        make_server: Callable[..., Server], ws_clients: Callable[[], WsClient]) -> None:
    srv = make_server().start()
    c = await ws_clients().connect(srv.url, f"?token={srv.login()}")
    await c.wait_for("connected")
    srv.stop()
    assert await c.wait_closed() == 1001


# -- a client that stops reading ------------------------------------------------------------
class StuckClient:
    """A plain-WebSocket client that completes the handshake, sends requests, and then
    never reads its socket again (a small receive buffer, so the server feels it soon)."""

    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self, port: int, query: str) -> StuckClient:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=4096)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write((f"GET /api/ws{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return self

    def send(self, message: dict[str, Any]) -> None:
        assert self.writer is not None
        data = json.dumps(message).encode()
        mask = os.urandom(4)
        n = len(data)
        header = bytes((0x81, 0x80 | n)) if n < 126 else (
            bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big"))
        self.writer.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    async def read_frames(self, seconds: float) -> list[str]:
        """Read the server's text frames for ``seconds``."""
        assert self.reader is not None
        out: list[str] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    head = await self.reader.readexactly(2)
                    n = head[1] & 0x7F
                    if n == 126:
                        n = int.from_bytes(await self.reader.readexactly(2), "big")
                    elif n == 127:
                        n = int.from_bytes(await self.reader.readexactly(8), "big")
                    payload = await self.reader.readexactly(n)
                    if head[0] & 0x0F == 0x1:
                        out.append(payload.decode())
        return out

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()


SMALL_BUFFERS = {"HTS_PRICE_INTERVAL_SECONDS": "0.05", "HTS_SOCKET_SEND_BUFFER_BYTES": "4096",
                 "HTS_SEND_HIGH_WATER_BYTES": "4096"}


async def test_a_client_that_stops_reading_gets_the_latest_prices_not_a_backlog(
        make_server: Callable[..., Server]) -> None:
    srv = make_server(SMALL_BUFFERS).start()
    tok = srv.login()
    _, symbols, _ = srv.http("GET", "/api/symbols")
    topics = ",".join(f"price:{s['symbol']}" for s in symbols[:40])
    stuck = await StuckClient().connect(srv.port, f"?token={tok}&topics={topics}")
    paused_at = datetime.now(UTC)
    await asyncio.sleep(4)  # 40 symbols x 20 ticks/s = 3,200 updates it does not read
    resumed_at = datetime.now(UTC)
    frames = await stuck.read_frames(1.5)
    updates = [json.loads(f) for f in frames if '"price_update"' in f]
    stale = [u for u in updates
             if paused_at + timedelta(seconds=0.5)
             < datetime.fromisoformat(u["data"]["timestamp"])
             < resumed_at - timedelta(seconds=0.5)]
    # what the small socket buffers held, plus at most one waiting update per symbol
    assert len(stale) < 400, len(stale)
    assert status(srv)["connections_by_transport"]["websocket"] == 1  # prices never drop it
    fresh = [u for u in updates if datetime.fromisoformat(u["data"]["timestamp"]) >= resumed_at]
    assert {u["symbol"] for u in fresh} == {s["symbol"] for s in symbols[:40]}
    stuck.abort()


async def test_a_client_that_stops_reading_is_dropped_and_resumes_without_loss(
        make_server: Callable[..., Server], ws_clients: Callable[[], WsClient]) -> None:
    srv = make_server({**SMALL_BUFFERS, "HTS_OUTBOX_MAX_AGE_SECONDS": "2"}).start()
    tok = srv.add_user("stuck_ws")
    _, symbols, _ = srv.http("GET", "/api/symbols")
    topics = ",".join(f"price:{s['symbol']}" for s in symbols[:40]) + ",order:*"
    control = await ws_clients().connect(srv.url, f"?token={tok}&topics=order:*,price:005930")
    await control.wait_for("connected")
    stuck = await StuckClient().connect(srv.port, f"?token={tok}&topics={topics}")
    # its fills are never dropped: once one has waited past the age bound, it is let go
    deadline = time.monotonic() + 60
    while status(srv)["connections_by_transport"]["websocket"] != 1:
        assert time.monotonic() < deadline, "the stuck client was never dropped"
        place(srv, tok, quantity=1)
        await asyncio.sleep(0.5)
    assert "slow_consumer" in srv.log()
    stuck.abort()
    # meanwhile the control connection kept its stream
    n = len(control.events["price_update"])
    await control.wait_for("price_update", n + 5)
    # every private event is still there for a resume
    await asyncio.sleep(0.5)
    head = max(u["seq"] for u in control.events["order_update"])
    back = await ws_clients().connect(srv.url, f"?token={tok}&topics=order:*&last_seq=0")
    replayed = await back.wait_for("order_update", head)
    assert [u["seq"] for u in replayed][:head] == list(range(1, head + 1))


# -- the wire guard's policies, shared with Socket.IO -----------------------------------------
async def test_a_flood_of_bad_input_is_closed_like_a_socketio_flooder(
        make_server: Callable[..., Server], ws_clients: Callable[[], WsClient]) -> None:
    srv = make_server({"HTS_BAD_REQUESTS_PER_SECOND": "1", "HTS_BAD_REQUESTS_BURST": "5"}).start()
    c = await ws_clients().connect(srv.url, f"?token={srv.login()}")
    await c.wait_for("connected")
    for _ in range(20):
        try:
            await c.send("{nope")
        except ConnectionResetError:  # aiohttp's ClientConnectionResetError: already cut
            break
    assert await c.wait_closed() == 4429
    assert c.close_reason == "rate_limited"
    errors = c.events["error"]
    assert [e["message"] for e in errors[:5]] == ["Invalid JSON format"] * 5
    assert errors[-1]["message"] == "too many refused requests; disconnecting"
    await until_no_connections(srv)
    assert status(srv)["wire"]["disconnected"]["flood"] == 1


async def test_per_address_limits_count_both_framings(
        make_server: Callable[..., Server], clients: Callable[[], Client],
        ws_clients: Callable[[], WsClient]) -> None:
    srv = make_server({"HTS_MAX_CONNECTIONS_PER_ADDRESS": "2"}).start()
    tok = srv.login()
    sio = await clients().connect(srv.url, auth={"token": tok})
    ws = await ws_clients().connect(srv.url, f"?token={tok}")
    await sio.wait_for("connected")
    await ws.wait_for("connected")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await ws_clients().connect(srv.url, f"?token={tok}")
    assert refused.value.status == 429
    assert refused.value.headers is not None and "Retry-After" in refused.value.headers
    await ws.close()  # a plain-WebSocket connection gives its place back
    again = await ws_clients().connect(srv.url, f"?token={tok}")
    await again.wait_for("connected")


async def test_batching_over_plain_websocket(server: Server, token: str,
                                             ws_clients: Callable[[], WsClient]) -> None:
    c = await ws_clients().connect(
        server.url, f"?token={token}&batch=true&topics=price:005930,price:000660")
    (batch,) = (await c.wait_for("price_batch", timeout=15))[:1]
    assert {u["symbol"] for u in batch["updates"]} == {"005930", "000660"}
    assert all(u["type"] == "price_update" for u in batch["updates"])
    assert not c.events["price_update"]
