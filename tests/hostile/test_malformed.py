"""Hostile input at the wire level: raw Engine.IO/Socket.IO frames over a websocket.

The server must answer what it can with an error code, drop only the offending
connection when the frame is unusable, and keep serving everyone else.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.support import Client, Server


class Raw:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def recv(self, timeout: float = 2.0) -> str | None:
        try:
            msg = await asyncio.wait_for(self.ws.receive(), timeout)
        except TimeoutError:
            return None
        if msg.type is aiohttp.WSMsgType.TEXT:
            text = str(msg.data)
            if text == "2":  # engine.io ping: answer and keep reading
                await self.ws.send_str("3")
                return await self.recv(timeout)
            return text
        return None

    async def event(self, timeout: float = 2.0) -> list[object] | None:
        while (text := await self.recv(timeout)) is not None:
            if text.startswith("42"):
                return list(json.loads(text[2:]))
        return None


@pytest.fixture
async def raw(server: Server, token: str) -> AsyncIterator[Raw]:
    url = server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
        r = Raw(ws)
        assert (await r.recv() or "").startswith("0{")
        await ws.send_str("40" + json.dumps({"token": token}))
        assert (await r.recv() or "").startswith("40{")
        hello = await r.event()
        assert hello is not None and hello[0] == "connected"
        yield r


async def _others_are_fine(server: Server, token: str) -> None:
    c = Client()
    await c.connect(server.url, auth={"token": token})
    assert (await c.call("ping", {}))["ok"] is True
    await c.disconnect()


async def test_a_non_string_event_name_is_an_unknown_event(raw: Raw, server: Server,
                                                           token: str) -> None:
    await raw.ws.send_str('421[5,{"a":1}]')
    text = await raw.recv()
    assert text is not None and text.startswith("42")
    err = json.loads(text[2:])
    assert err[0] == "error" and err[1]["code"] == "unknown_event"
    ack = await raw.recv()
    assert ack is not None and ack.startswith("431")
    assert json.loads(ack[3:])[0]["error"]["code"] == "unknown_event"


async def test_extra_arguments_are_invalid(raw: Raw) -> None:
    await raw.ws.send_str('427["ping",{"timestamp":1},{"x":1}]')
    err = await raw.event()
    assert err is not None and err[0] == "error" and err[1]["code"] == "invalid_message"


@pytest.mark.parametrize("frame", ['42garbage', '42["subscribe"', '4', '49', '42[]',
                                   '42{"not":"a list"}'])
async def test_undecodable_socketio_frames_hurt_no_one(raw: Raw, server: Server, token: str,
                                                       frame: str) -> None:
    await raw.ws.send_str(frame)
    # dropped (and counted as bad input): the same connection answers the next request
    await raw.ws.send_str('421["ping",{}]')
    reply = await raw.event()
    assert reply is not None and reply[0] == "pong"
    await _others_are_fine(server, token)


async def test_an_undecodable_engineio_frame_drops_only_that_connection(
        raw: Raw, server: Server, token: str) -> None:
    await raw.ws.send_str("zz")
    assert await raw.recv(5.0) is None  # the connection closes (nothing is answered)
    assert raw.ws.closed or raw.ws.close_code is not None
    await _others_are_fine(server, token)


async def test_an_oversized_message_drops_only_that_connection(raw: Raw, server: Server,
                                                               token: str) -> None:
    await raw.ws.send_str("42" + json.dumps(["ping", {"timestamp": "x" * 70_000}]))
    assert await raw.recv(3.0) is None  # nothing answered: the connection is closed
    assert raw.ws.closed or raw.ws.close_code is not None or raw.ws.exception() is not None
    await _others_are_fine(server, token)
