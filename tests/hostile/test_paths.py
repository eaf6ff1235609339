"""Paths and bodies a gateway must not forward (issue 20), against one process and a
gateway alike: traversal in every encoding is 400 before any route, only the public
API's routes and methods reach the engine, and a body that never arrives is 408 with
its file descriptors released."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator

import aiohttp
import pytest

from tests.cluster import GatewayFront, module_front
from tests.hostile.wire import HOSTILE_ENV, raw_post, until
from tests.plainws import ws_url
from tests.support import Server

TRAVERSALS = [
    "/api/../internal/status",
    "/api/%2e%2e/internal/status",
    "/api/%2E%2E/internal/status",
    "/api/..%2Finternal/status",
    "/api/..%2finternal%2fstatus",
    "/api/ws/../../internal/status",
    "/api/%252e%252e/internal/status",
    "/api/orders/..%252F..%252Finternal%252Fstatus",
    "/api/%25252e%25252e/internal/status",
    "/api/.%2e/internal/status",
    "/api/..\\internal\\status",
    "/api//internal/status",
    "/api/./orders",
    "/static/../internal/status",
]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, module_role: str) -> Iterator[Server]:
    s = module_front(tmp_path_factory, "paths", module_role, HOSTILE_ENV)
    yield s
    s.stop()


async def raw_request(srv: Server, method: str, path: str,
                      token: str | None = None) -> tuple[int, dict[str, object]]:
    """One request with ``path`` exactly as given (no client normalizes it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
                 "Connection: close\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {"raw": body[:200].decode(errors="replace")}
    return status, parsed if isinstance(parsed, dict) else {"body": parsed}


async def test_traversal_is_refused_in_every_encoding(srv: Server) -> None:
    admin = srv.login("admin", "adminpass")
    for path in TRAVERSALS:
        for method in ("GET", "POST"):
            status, body = await raw_request(srv, method, path, admin)
            assert status == 400, (path, status, body)
            assert body["error"] == {"code": "invalid_message", "message": body["error"]["message"]}
    # what is not traversal still works: an order id that merely contains dots is a 404
    status, body = await raw_request(srv, "GET", "/api/orders/a..b", admin)
    assert status == 404 and body["error"]["code"] == "not_found", body
    status, _ = await raw_request(srv, "GET", "/api/orders", admin)
    assert status == 200


async def test_only_the_public_api_is_forwarded(srv: Server) -> None:
    token = srv.login()
    cases = [  # (method, path, status, code): one process and a gateway answer alike
        ("GET", "/internal/status", 404, "not_found"),
        ("POST", "/internal/confirm", 404, "not_found"),
        ("GET", "/api/internal/status", 404, "not_found"),
        ("GET", "/api/nope", 404, "not_found"),
        ("GET", "/api/orders/x/y/z", 404, "not_found"),
        ("PATCH", "/api/account", 405, "invalid_message"),
        ("PUT", "/api/orders", 405, "invalid_message"),
        ("POST", "/api/symbols", 405, "invalid_message"),
        ("DELETE", "/api/watchlist", 405, "invalid_message"),
    ]
    for method, path, want, code in cases:
        status, body = await raw_request(srv, method, path, token)
        assert (status, body.get("error", {}).get("code")) == (want, code), \
            (method, path, status, body)  # type: ignore[union-attr]
    status, body = await raw_request(srv, "GET", "/api/account", token)
    assert status == 200 and "cash" in json.dumps(body)


def open_fds(srv: Server) -> int:
    procs = [srv.proc] + ([srv.engine.proc] if isinstance(srv, GatewayFront) else [])
    return sum(len(os.listdir(f"/proc/{p.pid}/fd")) for p in procs if p is not None)


async def test_a_body_that_never_arrives_is_408_and_its_fds_are_released(srv: Server) -> None:
    """300 requests that declare a body and stall (the audit: a gateway held all 300 fds
    after 30 s): each is answered 408 at the read deadline, and the fds go."""
    srv.http("GET", "/healthz")
    baseline = open_fds(srv)
    hold = asyncio.Event()
    paths = ["/api/orders", "/api/auth/login", "/api/watchlist", "/api/strategies"]
    tasks = [asyncio.create_task(raw_post(srv, paths[i % 4], b'{"symbol":', 60_000, hold,
                                          timeout=15))
             for i in range(300)]
    await asyncio.sleep(0)
    assert await until(lambda: sum(t.done() for t in tasks) == 0 and open_fds(srv) > baseline,
                       5.0)
    hold.set()
    replies = await asyncio.gather(*tasks)
    assert all(r.startswith(b"HTTP/1.1 408") for r in replies), \
        {r[:20] for r in replies}
    assert await until(lambda: open_fds(srv) <= baseline + 5, 10.0), (baseline, open_fds(srv))


async def test_one_origin_policy_for_both_framings(srv: Server) -> None:
    """HTS_CORS_ORIGINS (unset: the server's own origin) decides for Socket.IO's handshake
    and the plain WebSocket alike; a client that sends no Origin (not a browser) is fine."""
    token = srv.login()
    own = f"http://127.0.0.1:{srv.port}"
    for origin, accepted in ((own, True), ("http://evil.example", False), (None, True)):
        headers = {"Origin": origin} if origin else {}
        async with aiohttp.ClientSession() as http:
            try:
                async with http.ws_connect(ws_url(srv.url, f"?token={token}"),
                                           headers=headers) as ws:
                    hello = await ws.receive_json(timeout=5)
                    plain: object = hello["type"]
            except aiohttp.WSServerHandshakeError as exc:
                plain = exc.status
            async with http.get(srv.url + "/socket.io/?EIO=4&transport=polling",
                                headers=headers) as r:
                sio = r.status
        if accepted:
            assert (plain, sio) == ("connected", 200), origin
        else:
            assert (plain, sio) == (403, 400), origin
