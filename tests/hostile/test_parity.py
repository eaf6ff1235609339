"""What one process refuses, a gateway refuses too (issue 19's review: four protections
the gateway's hand-built copy of the app had lost). Each runs against both roles."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import Iterator

import pytest

from tests.cluster import module_front
from tests.hostile.wire import HOSTILE_ENV, log_size, raw_post, status, until
from tests.plainws import WsClient
from tests.support import Server, free_port


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, module_role: str) -> Iterator[Server]:
    env = {**HOSTILE_ENV, "HTS_BAD_REQUESTS_PER_SECOND": "1", "HTS_BAD_REQUESTS_BURST": "5",
           "HTS_METRICS_PORT": str(free_port())}
    s = module_front(tmp_path_factory, "parity", module_role, env)
    yield s
    s.stop()


async def test_a_plain_websocket_flooder_is_cut_after_its_budget(srv: Server) -> None:
    admin = srv.login("admin", "adminpass")
    before = status(srv, admin)["wire"]["disconnected"].get("flood", 0)
    c = await WsClient().connect(srv.url, f"?token={srv.login()}")
    try:
        await c.wait_for("connected")
        for _ in range(20):
            try:
                await c.send("{nope")
            except ConnectionResetError:  # already cut
                break
        assert await c.wait_closed() == 4429  # rate_limited: the budget (burst 5) is spent
        assert c.close_reason == "rate_limited"
        assert len(c.events["error"]) <= 6 + 1  # the budget's replies, then the verdict
    finally:
        await c.close()
    assert await until(lambda: status(srv, admin)["wire"]["disconnected"].get("flood", 0)
                       == before + 1)


async def test_rest_bodies_are_bounded_and_deadlined(srv: Server) -> None:
    # declares 2 MiB: 413 at once, without waiting for the bytes
    reply = await raw_post(srv, "/api/orders", b"{" + b" " * 1023, 2 * 2**20)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:100]
    # declares 60 KB (allowed), sends 1 KB and stalls: 408 after the read deadline (1 s)
    reply = await raw_post(srv, "/api/auth/login", b"{" + b" " * 1023, 60_000)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:100]


async def test_a_token_in_a_malformed_request_line_never_reaches_the_log(srv: Server) -> None:
    token = srv.login()
    before = log_size(srv)
    # a request line over aiohttp's 8190-byte limit, the token in its query: aiohttp logs
    # the first 100 bytes of a line it cannot parse, which here would be the token's
    for path in (f"/api/ws?token={token}&pad={'a' * 9000}",
                 f"/socket.io/?EIO=4&transport=polling&token={token}&pad={'a' * 9000}"):
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        assert (await reader.read(12)).startswith(b"HTTP/1."), "answered"
        writer.close()
    srv.http("GET", "/healthz")  # its access line marks the end of what the attack logged
    assert await until(lambda: '"GET /healthz"' in srv.log()[before:])
    text = srv.log()[before:]
    assert "bad HTTP request" in text  # the short line the log filter writes instead
    signature = token.rsplit(".", 1)[0]
    for part in (token[:40], signature[-30:]):
        assert part not in text


def test_the_metrics_port_serves_without_auth(srv: Server) -> None:
    port = int(srv.extra_env["HTS_METRICS_PORT"])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        body = r.read().decode()
    assert r.status == 200
    assert re.search(r"^hts_connections\{transport=\"websocket\"\} ", body, re.M), body[:500]
    code, _, _ = srv.http("GET", "/metrics")  # the public port still wants an admin
    assert code == 401
