"""A server restart: clients with the libraries' own reconnection come back by themselves."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
import socketio

from tests.support import Server


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
async def test_python_socketio_client_reconnects_after_a_restart(
        make_server: Callable[..., Server], how: str) -> None:
    srv = make_server().start()
    token = srv.login()
    connects: list[float] = []
    prices: list[float] = []
    sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2,
                               reconnection_delay_max=1)

    @sio.on("connected")
    async def _connected(data: dict[str, object]) -> None:
        connects.append(time.monotonic())

    @sio.on("price_update")
    async def _price(data: dict[str, object]) -> None:
        prices.append(time.monotonic())

    await sio.connect(srv.url, auth={"token": token, "topics": ["price:005930"]},
                      transports=["websocket"])
    try:
        for _ in range(100):
            if connects:
                break
            await asyncio.sleep(0.05)
        t0 = time.monotonic()
        srv.stop() if how == "sigterm" else srv.kill()
        assert time.monotonic() - t0 < 5, "shutdown took too long"
        srv.start()
        for _ in range(300):
            if len(connects) >= 2 and prices and prices[-1] > connects[1]:
                break
            await asyncio.sleep(0.05)
        assert len(connects) >= 2, "the client did not reconnect"
        assert prices and prices[-1] > connects[1], "prices did not resume after reconnecting"
    finally:
        await sio.disconnect()
