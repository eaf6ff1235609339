"""Strict JSON at every door (issue 20): lone surrogates, NaN/Infinity, deep nesting and
oversized numbers in REST bodies, Socket.IO events and plain-WebSocket messages, each
against one process and a gateway.

Each is refused ``invalid_message`` where it enters (the connection stays up, the bad
input spends the connection's budget); none reaches a reply, a log line or the journal
undecodable, no HTTP 500 is written into an upgraded websocket, and the log grows by a
bounded number of bytes (measured in each test) with no traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.cluster import GatewayFront, module_front
from tests.hostile.wire import HOSTILE_ENV, RawWebSocket, sio_connect
from tests.plainws import WsClient, ws_url
from tests.support import Server

BURST = 40
ENV = {**HOSTILE_ENV, "HTS_BAD_REQUESTS_BURST": str(BURST), "HTS_BAD_REQUESTS_PER_SECOND": "1"}

# JSON texts no strict decoder takes, each as the value of a field (or the field's name)
SURROGATE_VALUE = '"\\ud800"'
BAD_VALUES = {
    "surrogate": SURROGATE_VALUE,
    "low_surrogate": '"a\\udfffb"',
    "nan": "NaN",
    "infinity": "-Infinity",
    "huge_int": "9" * 4000,
    "past_2_53": str(2**53),
    "deep_array": "[" * 30_000 + "]" * 30_000,
    "deep_object": '{"a":' * 10_000 + "1" + "}" * 10_000,
}


def body_with(fields: dict[str, str], bad: str, *, as_key: bool = False) -> str:
    """A JSON object text of ``fields`` (raw JSON values) plus one refused element."""
    parts = [f'"{k}":{v}' for k, v in fields.items()]
    parts.append('"\\ud800x":1' if as_key else f'"extra":{bad}')
    return "{" + ",".join(parts) + "}"


def logs(srv: Server) -> list[Path]:
    paths = [srv.log_path]
    if isinstance(srv, GatewayFront):
        paths.append(srv.engine.log_path)
    return paths


def log_bytes(srv: Server) -> int:
    return sum(p.stat().st_size for p in logs(srv) if p.exists())


def log_text(srv: Server, since: list[int]) -> str:
    return "".join(p.read_text(errors="replace")[start:] for p, start in zip(
        logs(srv), since, strict=True))


def marks(srv: Server) -> list[int]:
    return [len(p.read_text(errors="replace")) if p.exists() else 0 for p in logs(srv)]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, module_role: str) -> Iterator[Server]:
    s = module_front(tmp_path_factory, "strict", module_role, ENV)
    yield s
    s.stop()


# -- REST ------------------------------------------------------------------------------------
REST_BODIES = [  # (method, path, needs a token, the valid fields)
    ("POST", "/api/auth/login", False, {"username": '"testuser"', "password": '"testpass"'}),
    ("POST", "/api/auth/logout", True, {"everywhere": "false"}),
    ("POST", "/api/auth/password", True, {"current_password": '"x"', "new_password": '"y"'}),
    ("POST", "/api/orders", True, {"symbol": '"005930"', "side": '"buy"', "quantity": "1",
                                   "price": "70000"}),
    ("PUT", "/api/watchlist", True, {"symbols": '["005930"]'}),
    ("POST", "/api/strategies", True, {"kind": '"ma_cross"', "symbol": '"005930"',
                                       "quantity": "1"}),
]


def test_every_rest_body_is_decoded_strictly(srv: Server) -> None:
    token = srv.add_user("strict_rest")
    admin = srv.login("admin", "adminpass")
    before, since = log_bytes(srv), marks(srv)
    requests = 0
    for method, path, needs_token, fields in REST_BODIES:
        variants = [body_with(fields, "", as_key=True)]
        variants += [body_with(fields, v) for v in BAD_VALUES.values()]
        variants += [b"\xff\xfe{}"]  # not UTF-8
        for body in variants:
            raw = body.encode() if isinstance(body, str) else body
            code, reply, _ = srv.http(method, path, raw=raw, token=token if needs_token else None)
            requests += 1
            assert code == 400, (path, body[:40], code, reply)
            assert reply["error"]["code"] == "invalid_message", reply
    # the unauthenticated login flood of the audit (2,703 tracebacks in 5 s): 300 bodies
    for _ in range(300):
        code, reply, _ = srv.http("POST", "/api/auth/login",
                                  raw=b'{"username":"a","password":"b","\\ud800":1}')
        assert code == 400 and reply["error"]["code"] == "invalid_message"
    requests += 300
    code, _, _ = srv.http("GET", "/api/watchlist", token=token)  # nothing was written
    assert code == 200
    code, orders, _ = srv.http("GET", "/api/orders", token=token)
    assert code == 200 and orders == []
    code, body, _ = srv.http("GET", "/api/ws/status", token=admin)
    assert code == 200
    text = log_text(srv, since)
    grown = log_bytes(srv) - before
    # an access line per request (~120 bytes: method, path, status, time), nothing more
    assert grown < requests * 200, f"{grown} bytes of log for {requests} refused bodies"
    assert "Traceback" not in text and "\\ud800" not in text and "testpass" not in text


# -- Socket.IO -------------------------------------------------------------------------------
SIO_EVENTS = {  # event: valid fields (raw JSON)
    "subscribe": {"topic": '"price:005930"'},
    "unsubscribe": {"topic": '"price:005930"'},
    "ping": {"timestamp": "1"},
    "get_price": {"symbol": '"005930"'},
    "get_orderbook": {"symbol": '"005930"'},
    "get_account": {},
    "no_such_event": {},
}


async def _sio_refused(ws: RawWebSocket, ack: int, frame_body: str) -> None:
    await ws.send(f"42{ack}" + frame_body)
    err = await ws.event("error")
    assert err is not None and err[1]["code"] == "invalid_message", err
    answer = await ws.ack(ack)
    assert answer is not None and answer[0]["error"]["code"] == "invalid_message", answer


async def test_every_socketio_event_is_decoded_strictly(srv: Server) -> None:
    token = srv.add_user("strict_sio")
    before, since = log_bytes(srv), marks(srv)
    sent = 0
    for event, fields in SIO_EVENTS.items():
        async with await RawWebSocket.open(srv) as ws:
            await ws.connect({"token": token})
            for ack, bad in enumerate([None, *BAD_VALUES.values()], start=1):
                payload = body_with(fields, bad or "", as_key=bad is None)
                await _sio_refused(ws, ack, f'["{event}",{payload}]')
                sent += 1
            # the event name itself, and a ping whose timestamp is one (the audit's lost ack)
            await _sio_refused(ws, 100, '["\\ud800",{}]')
            await _sio_refused(ws, 101, '["ping",{"timestamp":"\\udc00"}]')
            await _sio_refused(ws, 102, '["ping",{"timestamp":NaN}]')
            sent += 3
            # the connection is fine: the next request is answered
            await ws.send('42200["ping",{"timestamp":"ok"}]')
            pong = await ws.ack(200)
            assert pong is not None and pong[0]["ok"] is True and pong[0]["timestamp"] == "ok"
    # a handshake whose auth is not strict JSON: connect_error invalid_message
    async with await RawWebSocket.open(srv) as ws:
        await ws.send(sio_connect(None)[:2] + '{"token":"\\ud800"}')
        reply = await ws.recv()
        assert reply is not None and reply.startswith("44"), reply
        assert json.loads(reply[2:])["code"] == "invalid_message"
    text = log_text(srv, since)
    grown = log_bytes(srv) - before
    assert grown < 25_000, f"{grown} bytes of log for {sent} refused events"
    assert "Traceback" not in text


async def test_surrogate_pings_spend_the_bad_input_budget(srv: Server) -> None:
    """400 surrogate pings from one socket (the audit: never cut, 932 KiB of log):
    answered until the budget is spent, then rate_limited and closed."""
    token = srv.add_user("strict_flood")
    before = log_bytes(srv)
    async with await RawWebSocket.open(srv) as ws:
        await ws.connect({"token": token})
        for i in range(400):
            await ws.send(f'42{i}["ping",{{"timestamp":"\\ud800"}}]')
        assert await ws.closed(), "the flooder is disconnected"
        errors = [json.loads(t[2:])[1] for t in ws.received
                  if t.startswith("42") and '"error"' in t]
        codes = [e["code"] for e in errors]
        assert codes[:BURST] == ["invalid_message"] * BURST
        assert codes[-1] == "rate_limited"
    assert log_bytes(srv) - before < 10_000
    # the plain WebSocket: the same budget
    ws2 = await WsClient().connect(srv.url, f"?token={token}")
    assert ws2.ws is not None
    for i in range(400):
        await ws2.ws.send_str(f'{{"type":"ping","request_id":{i},"timestamp":"\\ud800"}}')
    await ws2.wait_closed()
    assert ws2.close_code == 4429 and ws2.close_reason == "rate_limited"
    assert len(ws2.events["error"]) == BURST + 1
    await ws2.close()
    assert log_bytes(srv) - before < 20_000


# -- the plain WebSocket ---------------------------------------------------------------------
PLAIN_TYPES = {**SIO_EVENTS}


async def test_every_plain_websocket_message_is_decoded_strictly(srv: Server) -> None:
    token = srv.add_user("strict_ws")
    before, since = log_bytes(srv), marks(srv)
    sent = 0
    for kind, fields in PLAIN_TYPES.items():
        ws = await WsClient().connect(srv.url, f"?token={token}")
        await ws.wait_for("connected")
        assert ws.ws is not None
        frames = [body_with({"type": f'"{kind}"', **fields}, "", as_key=True)]
        frames += [body_with({"type": f'"{kind}"', **fields}, v) for v in BAD_VALUES.values()]
        frames += [  # the audit's: surrogates in type, request_id, a field name, a timestamp
            '{"type":"\\ud800"}',
            f'{{"type":"{kind}","request_id":"\\ud800"}}',
            f'{{"type":"{kind}","request_id":{"7" * 4000}}}',
            f'{{"type":"{kind}","request_id":{2**53}}}',
            '{"type":"ping","timestamp":"\\udbff"}',
            "[" * 60_000,
        ]
        for frame in frames:
            await ws.ws.send_str(frame)
        sent += len(frames)
        errors = await ws.wait_for("error", len(frames))
        assert [e["code"] for e in errors] == ["invalid_message"] * len(frames), errors
        assert all("request_id" not in e for e in errors)  # nothing echoed undecodable
        await ws.send({"type": "ping", "request_id": 2**53 - 1, "timestamp": "ok"})
        pong = (await ws.wait_for("pong"))[0]
        assert pong["request_id"] == 2**53 - 1 and pong["timestamp"] == "ok"
        assert not ws.closed.is_set()
        await ws.close()
    text = log_text(srv, since)
    grown = log_bytes(srv) - before
    assert grown < 25_000, f"{grown} bytes of log for {sent} refused messages"
    assert "Traceback" not in text and "Error handling request" not in text


@pytest.mark.parametrize("first", [
    '{"type":"auth","token":"\\ud800"}',
    '{"type":"auth","token":"x","\\ud800":1}',
    '{"type":"auth","last_seq":NaN}',
    '{"type":"auth","a":' + "[" * 10_000 + "]" * 10_000 + "}",
])
async def test_an_auth_message_that_is_not_strict_json_closes_4400(srv: Server,
                                                                   first: str) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(srv.url)) as ws:
        await ws.send_str(first)
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.TEXT
        assert json.loads(msg.data)["code"] == "invalid_message"
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 4400, msg
        assert msg.extra == "invalid_message"


async def test_batch_is_strict_on_both_forms(srv: Server) -> None:
    token = srv.login()
    for query in ("&batch=yes", "&batch=TRUE", "&batch=2"):
        ws = await WsClient().connect(srv.url, f"?token={token}{query}")
        await ws.wait_closed()
        assert (ws.close_code, ws.close_reason) == (4400, "invalid_message"), query
        await ws.close()
    ws = await WsClient().connect(srv.url, "", first={"type": "auth", "token": token,
                                                      "batch": 1})
    await ws.wait_closed()
    assert (ws.close_code, ws.close_reason) == (4400, "invalid_message")
    await ws.close()
    for query in ("&batch=1", "&batch=true", "&batch=0", "&batch=false"):
        ws = await WsClient().connect(srv.url, f"?token={token}{query}")
        assert (await ws.wait_for("connected"))[0]["type"] == "connected"
        await ws.close()
    async with await RawWebSocket.open(srv) as sio:
        await sio.send(sio_connect({"token": token, "batch": 1}))
        reply = await sio.recv()
        assert reply is not None and reply.startswith("44"), reply
        assert json.loads(reply[2:])["code"] == "invalid_message"
