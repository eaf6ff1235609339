"""Sockets that never authenticate, and too many sockets from one address."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import aiohttp
import pytest

from tests.cluster import module_front
from tests.hostile.wire import (
    HOSTILE_ENV,
    RawPolling,
    RawWebSocket,
    sio_connect,
    status,
    until,
)
from tests.support import Client, Server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, module_role: str) -> Iterator[Server]:
    s = module_front(tmp_path_factory, "admission", module_role, HOSTILE_ENV)
    yield s
    s.stop()


async def test_sessions_that_never_send_connect_are_closed_at_the_deadline(srv: Server) -> None:
    admin = srv.login("admin", "adminpass")
    before = status(srv, admin)["wire"]["disconnected"].get("connect_timeout", 0)
    # they answer every ping (0.5 s here), so only the CONNECT deadline (1 s) can end them
    sockets = [await RawWebSocket.open(srv) for _ in range(5)]
    polling = await RawPolling.open(srv)
    try:
        closed = await asyncio.gather(polling.closed(), *(s.closed() for s in sockets))
        assert all(closed)
        assert all(s.received.count("2") >= 1 for s in sockets)  # pinged, and answered
        assert polling.received.count("2") >= 1 and "1" in polling.received
        assert await until(lambda: status(srv, admin)["wire"]["engineio_sessions"] == 0)
        body = status(srv, admin)
        assert body["wire"]["disconnected"]["connect_timeout"] - before == 6
        assert body["limits"]["connect_timeout_seconds"] == 1
    finally:
        for s in sockets:
            await s.close()
        await polling.close()


async def test_a_refused_handshake_closes_the_session_even_if_it_keeps_ponging(
        srv: Server) -> None:
    admin = srv.login("admin", "adminpass")
    for auth in (None, {"token": "not-a-jwt"}):
        async with await RawWebSocket.open(srv) as raw:
            await raw.send(sio_connect(auth))
            refusal = await raw.recv()
            assert refusal is not None and refusal.startswith("44"), refusal
            assert await raw.closed(timeout=10)  # CLOSE right after connect_error
            assert "1" in raw.received
    assert await until(lambda: status(srv, admin)["wire"]["engineio_sessions"] == 0)
    assert status(srv, admin)["wire"]["disconnected"]["refused"] >= 2


async def test_per_address_limits_refuse_with_429_and_are_reported(
        make_server: Callable[..., Server]) -> None:
    srv = make_server({"HTS_MAX_CONNECTIONS_PER_ADDRESS": "3",
                       "HTS_CONNECTS_PER_SECOND_PER_ADDRESS": "0.5",
                       "HTS_CONNECT_BURST_PER_ADDRESS": "5"}).start()
    admin, user = srv.login("admin", "adminpass"), srv.login()
    held = [await Client().connect(srv.url, auth={"token": user}) for _ in range(3)]
    try:
        # a 4th concurrent session from this address: 429 on the Engine.IO handshake
        async with (aiohttp.ClientSession() as http,
                    http.get(srv.url + "/socket.io/?EIO=4&transport=polling") as r):
            body = await r.json()
            assert r.status == 429 and body["error"]["code"] == "rate_limited"
            assert int(r.headers["Retry-After"]) >= 1
        with pytest.raises(Exception):  # noqa: B017 - python-socketio's ConnectionError
            await Client().connect(srv.url, auth={"token": user})
        await held.pop().disconnect()
        assert await until(lambda: status(srv, admin)["wire"]["engineio_sessions"] == 2)
        held.append(await Client().connect(srv.url, auth={"token": user}))  # room again
        await held.pop().disconnect()
        while held:
            await held.pop().disconnect()
        assert await until(lambda: status(srv, admin)["wire"]["engineio_sessions"] == 0)
        # connects per second: 0.5/s after a burst of 5 (4 spent above)
        async with aiohttp.ClientSession() as http:
            codes = []
            for _ in range(3):
                async with http.get(srv.url + "/socket.io/?EIO=4&transport=polling") as r:
                    codes.append(r.status)
        assert 429 in codes and 200 in codes, codes
        wire = status(srv, admin)
        assert wire["limits"]["max_connections_per_address"] == 3
        assert wire["limits"]["connects_per_second_per_address"] == 0.5
        assert wire["wire"]["refused_concurrent"] >= 2 and wire["wire"]["refused_rate"] >= 1
        assert wire["wire"]["max_open_per_address"] == 1
    finally:
        for c in held:
            await c.disconnect()
