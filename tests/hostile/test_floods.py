"""Floods: unknown events, undecodable packets, and a stuck socket that keeps sending."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator

import pytest

from tests.cluster import module_front
from tests.hostile.wire import HOSTILE_ENV, RawWebSocket, log_size, sio_event, status, until
from tests.support import Client, Server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, module_role: str) -> Iterator[Server]:
    s = module_front(tmp_path_factory, "floods", module_role, HOSTILE_ENV)
    yield s
    s.stop()


async def test_an_unknown_event_flood_gets_bounded_replies_then_a_disconnect(
        srv: Server) -> None:
    admin = srv.login("admin", "adminpass")
    async with await RawWebSocket.open(srv) as raw:
        await raw.connect({"token": srv.login()})
        for i in range(3000):
            await raw.send(sio_event("nope", {"i": i}, ack=i))
        assert await raw.closed(timeout=20)
    errors = [json.loads(f[2:]) for f in raw.received if f.startswith("42")]
    acks = [f for f in raw.received if f.startswith("43")]
    # answered while within the bad-request burst (100, plus what 5/s refills), then cut
    assert 100 <= len(acks) < 200, len(acks)
    assert errors[-1][1] == {"type": "error", "event": "", "code": "rate_limited",
                             "message": "too many refused requests; disconnecting"}
    assert "41" in raw.received  # Socket.IO DISCONNECT: a client does not reconnect by itself
    assert await until(lambda: status(srv, admin)["active_connections"] == 0)
    assert status(srv, admin)["wire"]["disconnected"]["flood"] >= 1


async def test_bad_input_is_logged_once_per_connection_and_kind(
        make_server: Callable[..., Server]) -> None:
    # a burst this large keeps the flooder connected: only the log budget bounds it here
    srv = make_server({**HOSTILE_ENV, "HTS_BAD_REQUESTS_BURST": "100000"}).start()
    token = srv.login()
    before = log_size(srv)
    async with await RawWebSocket.open(srv) as raw:
        await raw.connect({"token": token})
        for _ in range(5000):
            await raw.send("42garbage")
        for i in range(1000):
            await raw.send(sio_event("nope" * 100, {"token": token}, ack=i))
        await raw.send(sio_event("ping", {}, ack=99999))  # after them all: the sync point
        assert await raw.ack(99999, timeout=30) is not None
    assert await until(lambda: "after bad input" in srv.log()[before:])
    text = srv.log()[before:]
    grown = log_size(srv) - before
    assert grown < 5000, f"{grown} bytes of log for 6,000 bad frames"  # was 16.7 MB
    # one line per kind, then one summary with the counts when the connection ends
    assert text.count("bad input bad_socketio_packet:") == 1
    assert text.count("bad input unknown_event:") == 1
    assert text.count("bad input rate_limited:") == 1  # most of the 1,000 were over the rate
    assert "after bad input bad_socketio_packet=5000 rate_limited=" in text
    assert token not in text and "Traceback" not in text


async def test_a_stuck_socket_flooding_requests_is_disconnected(srv: Server) -> None:
    """A client that never reads and sends 2,000 requests a second: everything the server
    queues for it is dropped with the connection, instead of growing without bound."""
    admin = srv.login("admin", "adminpass")
    bystander = Client()
    await bystander.connect(srv.url, auth={"token": srv.login()})
    async with await RawWebSocket.open(srv) as raw:
        await raw.connect({"token": srv.login()})
        frame = sio_event("get_account", {}, ack=1)
        for _ in range(20):  # 2,000 a second for up to 2 s, never reading a reply
            for _ in range(200):
                await raw.send(frame)
            await asyncio.sleep(0.1)
            if status(srv, admin)["active_connections"] == 1:
                break
        assert status(srv, admin)["active_connections"] == 1  # only the bystander is left
        assert status(srv, admin)["wire"]["disconnected"]["flood"] >= 1
    assert (await bystander.call("ping", {}))["ok"] is True
    await bystander.disconnect()
