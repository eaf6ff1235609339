"""Attacks with Socket.IO frames no client library would send."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.cluster import module_front
from tests.hostile.wire import HOSTILE_ENV, RawWebSocket, sio_event, status, until
from tests.plainws import WsClient
from tests.support import Client, Server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, module_role: str) -> Iterator[Server]:
    s = module_front(tmp_path_factory, "frames", module_role, HOSTILE_ENV)
    yield s
    s.stop()


async def test_reserved_event_names_are_refused_and_status_stays_healthy(srv: Server) -> None:
    user, admin = srv.login(), srv.login("admin", "adminpass")
    async with await RawWebSocket.open(srv) as raw:
        await raw.connect({"token": user, "topics": ["order:*"]})
        # the audit's attack: a second handshake with an admin token, as an event
        for i, (name, args) in enumerate([("connect", [{}, {"token": admin}]),
                                           ("disconnect", []), ("connect_error", [{}]),
                                           ("disconnecting", []), ("*", [{}])], start=1):
            await raw.send(sio_event(name, *args, ack=i))
            err = await raw.event("error")
            assert err is not None and err[1]["code"] == "invalid_message", (name, err)
            assert "reserved" in err[1]["message"]
            ack = await raw.ack(i)
            assert ack is not None and ack[0]["error"]["code"] == "invalid_message"
        # still the same single identity, still registered, still served
        body = status(srv, admin)
        assert body["active_connections"] == 1 and body["active_users"] == ["1"]
        assert body["subscriptions"] == {"order:*": ["1"]}
        await raw.send(sio_event("ping", {}, ack=99))
        assert (await raw.ack(99) or [{}])[0].get("ok") is True


async def test_binary_attachments_are_refused_and_the_socket_closed(srv: Server) -> None:
    user, admin = srv.login(), srv.login("admin", "adminpass")
    attacks: list[list[str | bytes]] = [
        ['451-["ping",{"_placeholder":true,"num":0}]'],  # one attachment, never sent
        ['451000-["ping",{"_placeholder":true,"num":0}]', '421["ping",{}]'],  # 1,000
        [b"\x04" + b"x" * 1000],  # a bare binary frame
        ["4" + "b" * 1000],  # not an attachment header: a malformed packet, not binary
    ]
    for frames in attacks[:3]:
        async with await RawWebSocket.open(srv) as raw:
            await raw.connect({"token": user})
            for f in frames:
                await raw.send(f)
            err = await raw.event("error")
            assert err is not None and err[1]["code"] == "invalid_message", frames
            assert "binary" in err[1]["message"]
            assert await raw.closed(), "the socket must be closed, not left swallowing frames"
            assert "41" in raw.received  # Socket.IO DISCONNECT: clients do not reconnect
    assert await until(lambda: status(srv, admin)["active_connections"] == 0)
    assert status(srv, admin)["wire"]["disconnected"]["binary"] >= 3


async def test_a_second_connect_on_one_session_closes_it(srv: Server) -> None:
    user, admin = srv.login(), srv.login("admin", "adminpass")
    async with await RawWebSocket.open(srv) as raw:
        await raw.connect({"token": user})
        await raw.send("40" + json.dumps({"token": admin}))
        err = await raw.event("error")
        assert err is not None and err[1]["code"] == "invalid_message"
        assert await raw.closed()
    assert await until(lambda: status(srv, admin)["active_users"] == [])


async def test_the_documented_maximum_message_size_is_accepted(srv: Server) -> None:
    user = srv.login()
    limit = 65536
    async with await RawWebSocket.open(srv) as raw:
        assert raw.opened["maxPayload"] >= limit
        await raw.connect({"token": user})
        head, tail = '21["ping",{"timestamp":"', '"}]'
        message = head + "x" * (limit - len(head) - len(tail)) + tail  # the Socket.IO message
        assert len(message.encode()) == limit
        await raw.send("4" + message)  # Engine.IO adds its one-byte packet type
        ack = await raw.ack(1)  # answered (the schema may refuse so long a timestamp)
        assert ack is not None and "ok" in ack[0]
        too_big = head + "x" * (limit + 1 - len(head) - len(tail)) + tail
        await raw.send("4" + too_big)
        assert await raw.closed()
    c = Client()
    await c.connect(srv.url, auth={"token": user})
    assert (await c.call("ping", {}))["ok"] is True
    await c.disconnect()


async def test_the_documented_maximum_frame_is_accepted_on_the_plain_websocket(
        srv: Server) -> None:
    """The README: a frame of up to HTS_MAX_PAYLOAD_BYTES (65,536) is read; a larger one
    closes 1009. (aiohttp refuses a message of exactly its max_msg_size: the audit's
    65,536-byte frame was closed.)"""
    user = srv.login()
    limit = 65536
    ws = await WsClient().connect(srv.url, f"?token={user}")
    await ws.wait_for("connected")
    head, tail = '{"type":"ping","request_id":"max","timestamp":"', '"}'
    frame = head + "x" * (limit - len(head) - len(tail)) + tail
    assert len(frame.encode()) == limit
    await ws.send(frame)
    reply = (await ws.wait_for("error"))[0]  # read and answered: the timestamp is too long
    assert reply["request_id"] == "max" and reply["code"] == "invalid_message"
    await ws.send(frame[:-len(tail)] + "x" + tail)
    assert await ws.wait_closed() == 1009
    await ws.close()


async def test_an_undecodable_engineio_frame_leaves_no_ghost_session(srv: Server) -> None:
    user, admin = srv.login(), srv.login("admin", "adminpass")
    for frame in ("zz", "", "b", "9"):
        async with await RawWebSocket.open(srv) as raw:
            await raw.connect({"token": user, "topics": ["price:005930"]})
            assert status(srv, admin)["subscriptions"] == {"price:005930": ["1"]}
            await raw.send(frame)
            assert await raw.closed()
            # gone from the registry at once, not after the 45 s ping timeout
            assert await until(lambda: status(srv, admin)["active_connections"] == 0, 5.0)
            assert status(srv, admin)["subscriptions"] == {}
