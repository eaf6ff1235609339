"""Websocket negotiation: permessage-deflate is declined unless configured."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from tests.support import Server


async def _negotiated_compress(srv: Server) -> int:
    url = srv.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as s, s.ws_connect(url, compress=15) as ws:
        assert (await ws.receive_str()).startswith("0{")  # a working engine.io session
        return int(ws.compress)


async def test_deflate_is_declined_by_default(server: Server) -> None:
    assert await _negotiated_compress(server) == 0


async def test_deflate_can_be_turned_on(make_server: Callable[..., Server]) -> None:
    srv = make_server({"HTS_WS_COMPRESSION": "true"}).start()
    assert await _negotiated_compress(srv) == 15
