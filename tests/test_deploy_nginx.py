"""The shipped nginx config (deploy/nginx/hts-realtime.conf) keeps its promises (issue 20):
Debian's nginx runs it unchanged (ports and log paths swapped for the test's) in front of
two gateways, an engine and Redis.

* the plain-WebSocket upgrade reaches a gateway: the seed's own Python client, run
  unchanged against nginx's port, prints connected, subscribed and price updates (it got
  HTTP 400 before);
* no token is written to nginx's access log, nor to the gateways' or the engine's logs,
  for a token in the query of /api/ws, of /socket.io/ and of any other path;
* traversal toward /internal/ is refused in every encoding, by nginx itself.
"""

from __future__ import annotations

import ast
import asyncio
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import Cluster, Nginx, RedisServer
from tests.hostile.wire import until
from tests.plainws import WsClient
from tests.support import Server
from tests.test_seed_examples import check_sequence, start


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Nginx]]:
    tmp = tmp_path_factory.mktemp("deploy")
    redis = RedisServer(tmp / "redis").start()
    cluster = Cluster(tmp / "cluster", redis).start()
    nginx = Nginx(tmp / "nginx", [g.port for g in cluster.gateways[:2]]).start()
    yield cluster, nginx
    nginx.stop()
    cluster.stop()
    redis.stop()


def front(nginx: Nginx, tmp: Path) -> Server:
    srv = Server(tmp / "front")
    srv.port = nginx.port  # the HTTP helpers, against nginx's address
    return srv


def raw_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


async def test_the_seeds_plain_websocket_client_through_nginx(
        deployed: tuple[Cluster, Nginx], tmp_path: Path) -> None:
    _, nginx = deployed
    srv = front(nginx, tmp_path)
    token = srv.login()
    out = await start(sys.executable, "-m", "clients.seed", "clients/seed/example.py",
                      server=srv, token=token)
    try:
        lines = await out.read_until(lambda ls: len(ls) >= 6)
    finally:
        await out.stop()
    check_sequence([(t, ast.literal_eval(text)) for t, text in lines])


async def test_no_token_in_any_log(deployed: tuple[Cluster, Nginx], tmp_path: Path) -> None:
    cluster, nginx = deployed
    srv = front(nginx, tmp_path)
    token = srv.login()
    # the token in the query of the plain WebSocket, of Socket.IO, and of a REST path
    ws = await WsClient().connect(nginx.url, f"?token={token}&topics=price:005930")
    await ws.wait_for("price_update")
    await ws.close()
    assert raw_status(f"{nginx.url}/socket.io/?EIO=4&transport=polling&token={token}") == 200
    assert raw_status(f"{nginx.url}/api/account?token={token}") == 401  # Bearer only
    srv.http("GET", "/api/account", token=token)  # and in a header
    assert raw_status(nginx.url + "/healthz?x=1") == 200  # last: its line ends the log
    access = nginx.workdir / "hts-realtime.access.log"
    assert await until(lambda: "GET /healthz HTTP/1.1" in access.read_text())
    text = access.read_text()
    assert "GET /api/ws HTTP/1.1" in text and "GET /socket.io/ HTTP/1.1" in text, text[-2000:]
    for piece in (token, token.split(".")[-1], token.split(".")[1]):
        assert piece not in text
        for srv_ in (*cluster.gateways, cluster.engine):
            assert piece not in srv_.log()
    assert "x=1" not in text


@pytest.mark.parametrize("path", [
    "/api/%2e%2e/internal/status",
    "/api/%252e%252e/internal/status",
    "/api/..%2Finternal/status",
    "/api/..%252Finternal%252Fstatus",
    "/api/ws/%2e%2e/%2e%2e/internal/status",
    "/socket.io/%252e%252e/internal/status",
    "/api/../internal/status",
    "/static/..%5c..%5cinternal/status",
])
async def test_traversal_is_refused_by_nginx(deployed: tuple[Cluster, Nginx],
                                            path: str) -> None:
    _, nginx = deployed
    reader, writer = await asyncio.open_connection("127.0.0.1", nginx.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    reply = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:200]
    # nginx's own answer (a gateway's message goes on to say why)
    assert reply.endswith(b'{"error":{"code":"invalid_message",'
                          b'"message":"the path is not a route"}}'), reply[-200:]
