"""Scale-out: one engine and several gateways over a real Redis, and nginx in front.

Every process is real: ``redis-server`` from the test's own directory,
``hts-realtime serve --role engine`` and ``--role gateway`` subprocesses,
python-socketio and Node socket.io-client clients, Debian's nginx with the
shipped ``deploy/`` config.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from tests.cluster import Cluster, Nginx, RedisServer
from tests.support import Client, Server
from tests.test_node_client import run_node

ORDER = {"symbol": "005930", "side": "buy", "quantity": 3, "order_type": "market"}


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    srv = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, redis: RedisServer) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cluster"), redis, gateways=3).start()
    yield c
    c.stop()


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[], Client]]:
    made: list[Client] = []

    def make() -> Client:
        c = Client()
        made.append(c)
        return c

    yield make
    for c in made:
        if c.sio.connected:
            await c.disconnect()


async def until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.05)


def place(gw: Server, token: str, **changes: Any) -> dict[str, Any]:
    status, body, _ = gw.http("POST", "/api/orders", {**ORDER, **changes}, token)
    assert status == 201, body
    return dict(body)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        return bytes(r.read())


def updates(client: Client) -> list[dict[str, Any]]:
    return list(client.events["order_update"])


def filled(client: Client, order_ids: list[str]) -> bool:
    done = {u["data"]["order_id"] for u in updates(client) if u["data"]["status"] == "filled"}
    return set(order_ids) <= done


def seqs(client: Client) -> list[int]:
    return [u["seq"] for u in updates(client)]


async def connect(gw: Server, clients: Callable[[], Client], token: str,
                  topics: list[str], last_seq: int | None = None) -> Client:
    auth: dict[str, Any] = {"token": token, "topics": topics}
    if last_seq is not None:
        auth["last_seq"] = last_seq
    c = await clients().connect(gw.url, auth=auth)
    await c.wait_for("connected")
    return c


# -- the private stream across gateways -------------------------------------------------


async def test_same_fills_on_two_gateways_placed_through_either(
    cluster: Cluster, clients: Callable[[], Client]
) -> None:
    gw_a, gw_b = cluster.gateways[0], cluster.gateways[1]
    token = cluster.engine.add_user("dual")
    a = await connect(gw_a, clients, token, ["order:*"])
    b = await connect(gw_b, clients, token, ["order:*"])
    first = place(gw_a, token)
    second = place(gw_b, token, quantity=5)
    ids = [first["order_id"], second["order_id"]]
    await until(lambda: filled(a, ids) and filled(b, ids), what="both fills on both gateways")
    await asyncio.sleep(0.3)  # anything extra (a duplicate) would arrive by now
    assert updates(a) == updates(b)
    assert seqs(a) == list(range(1, len(seqs(a)) + 1))
    # account and order reads answer the same through either gateway
    _, acct_a, _ = gw_a.http("GET", "/api/account", token=token)
    _, acct_b, _ = gw_b.http("GET", "/api/account", token=token)
    # (market value moves with prices between the two reads; holdings and cash do not)
    assert acct_a["cash"] == acct_b["cash"] and acct_a["positions"][0]["quantity"] == 8
    assert acct_b["positions"][0]["quantity"] == 8
    ack = await b.call("get_account", {})
    assert ack["ok"] is True and ack["data"]["cash"] == acct_a["cash"]


async def test_order_topic_of_an_order_placed_elsewhere(
    cluster: Cluster, clients: Callable[[], Client]
) -> None:
    """order:{id} is authorised by the engine's owner record, through any gateway."""
    gw_a, gw_b = cluster.gateways[0], cluster.gateways[1]
    owner = cluster.engine.add_user("owner")
    other = cluster.engine.add_user("other")
    order = place(gw_a, owner, order_type="limit", price=53_000)  # rests: far below market
    mine = await connect(gw_b, clients, owner, [])
    ack = await mine.call("subscribe", {"topic": f"order:{order['order_id']}"})
    assert ack["ok"] is True
    theirs = await connect(gw_b, clients, other, [])
    ack = await theirs.call("subscribe", {"topic": f"order:{order['order_id']}"})
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"
    status, body, _ = gw_b.http("DELETE", f"/api/orders/{order['order_id']}", token=owner)
    assert status == 200 and body["status"] == "cancelled"
    await until(lambda: any(u["data"]["status"] == "cancelled" for u in updates(mine)),
                what="the cancel on the order topic")


# -- prices -----------------------------------------------------------------------------


async def test_prices_reach_every_gateway_once_per_tick(
    cluster: Cluster, clients: Callable[[], Client]
) -> None:
    token = cluster.engine.add_user("watcher")
    channel = "md:price:000660"
    watchers = [await connect(gw, clients, token, ["price:000660"]) for gw in cluster.gateways]
    # each gateway subscribed once on Redis, however many of its clients watch
    extra = await connect(cluster.gateways[0], clients, token, ["price:000660"])
    await until(lambda: cluster.redis.cli("PUBSUB", "NUMSUB", channel).split() == [channel, "3"],
                what="three gateway subscriptions")
    for w in (*watchers, extra):
        await w.wait_for("price_update", 4, timeout=15)
    arrivals: list[list[float]] = [[] for _ in watchers]
    loop = asyncio.get_running_loop()
    for i, w in enumerate(watchers):
        w.events["price_update"].clear()

        async def stamp(data: Any, i: int = i) -> None:
            arrivals[i].append(loop.time())
        w.sio.on("price_update", stamp)
    await asyncio.sleep(4.2)
    counts = [len(a) for a in arrivals]
    assert min(counts) >= 3 and max(counts) - min(counts) <= 1, counts
    for a in arrivals:  # one update per 1 s tick: a duplicate would arrive at once
        gaps = [b - x for x, b in itertools.pairwise(a)]
        assert all(g > 0.5 for g in gaps), gaps
    # a gateway whose clients stop watching drops the channel
    for w in (watchers[0], extra):
        ack = await w.call("unsubscribe", {"topic": "price:000660"})
        assert ack["ok"] is True
    await until(lambda: cluster.redis.cli("PUBSUB", "NUMSUB", channel).split() == [channel, "2"],
                what="gateway 0 to unsubscribe")


# -- a gateway dies -----------------------------------------------------------------------


async def test_kill_9_of_a_gateway_resumes_on_another(
    cluster: Cluster, clients: Callable[[], Client], tmp_path: Path
) -> None:
    doomed = Server(tmp_path / "doomed", {**cluster.gateways[0].extra_env,
                                          "HTS_GATEWAY_ID": "doomed"}).start()
    token = cluster.engine.add_user("survivor")
    before = await connect(doomed, clients, token, ["order:*"])
    first = place(doomed, token)
    await until(lambda: filled(before, [first["order_id"]]), what="the first fill")
    last_seq = seqs(before)[-1]
    doomed.kill()
    await until(lambda: not before.sio.connected, what="the client to notice")
    survivor = cluster.gateways[1]
    missed = [place(survivor, token)["order_id"], place(survivor, token)["order_id"]]
    await until(lambda: all(o["status"] == "filled" for o in
                            survivor.http("GET", "/api/orders", token=token)[1]),
                what="the missed orders to fill")
    after = await connect(survivor, clients, token, ["order:*"], last_seq=last_seq)
    await until(lambda: filled(after, missed), what="the replay")
    hello = after.events["connected"][0]
    # the replay up to the hello's head, then whatever the relay had not yet carried to
    # Redis when the client connected, live: no gap, nothing twice
    assert seqs(after)[:hello["last_seq"] - last_seq] == list(range(last_seq + 1,
                                                                   hello["last_seq"] + 1))
    assert seqs(before) + seqs(after) == list(range(1, seqs(after)[-1] + 1))
    # the dead gateway drops out of the cluster status within three report intervals
    admin = cluster.engine.login("admin", "adminpass")

    def ids() -> set[str]:
        return {g["id"] for g in survivor.http("GET", "/api/ws/status", token=admin)[1]["gateways"]}
    await until(lambda: "doomed" not in ids(), what="the dead gateway to leave the status")


# -- Redis restarts -----------------------------------------------------------------------


async def test_redis_down_5s_while_orders_fill_then_every_fill_once_in_order(
    tmp_path: Path, clients: Callable[[], Client]
) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    c = Cluster(tmp_path / "c", redis, gateways=1).start()
    try:
        gw = c.gateways[0]
        token = c.engine.add_user("patient")
        live = await connect(gw, clients, token, ["order:*"])
        first = place(gw, token)
        await until(lambda: filled(live, [first["order_id"]]), what="the first fill")
        before = seqs(live)[-1]
        redis.stop()
        outage = asyncio.get_running_loop().time()
        during = [place(gw, token)["order_id"] for _ in range(3)]  # HTTP reaches the engine
        await until(lambda: all(o["status"] == "filled" for o in
                                gw.http("GET", "/api/orders", token=token)[1]),
                    what="fills during the outage")
        assert not filled(live, during)  # nothing could have carried them yet
        await asyncio.sleep(max(0.0, 5.0 - (asyncio.get_running_loop().time() - outage)))
        redis.start()  # same port, empty: the engine refills the streams from its journal
        await until(lambda: filled(live, during), timeout=20, what="fills after the outage")
        await asyncio.sleep(0.5)
        assert seqs(live) == list(range(1, len(seqs(live)) + 1)), seqs(live)
        assert len(seqs(live)) > before
        # and a client resuming now gets exactly what came after its last_seq
        resumed = await connect(gw, clients, token, ["order:*"], last_seq=before)
        await until(lambda: filled(resumed, during), what="the resume after the outage")
        assert seqs(resumed) == list(range(before + 1, seqs(live)[-1] + 1))
    finally:
        c.stop()
        redis.stop()


# -- nginx ------------------------------------------------------------------------------


async def test_through_nginx_websocket_polling_dashboard_and_api(
    cluster: Cluster, clients: Callable[[], Client], tmp_path: Path
) -> None:
    nginx = Nginx(tmp_path / "nginx", [g.port for g in cluster.gateways[:2]]).start()
    try:
        front = Server(tmp_path / "front")
        front.port = nginx.port  # HTTP helpers against nginx's address
        token = front.login()
        assert b"<html" in fetch(nginx.url + "/").lower()
        assert b"io" in fetch(nginx.url + "/static/vendor/socket.io.min.js")
        assert front.http("GET", "/internal/status")[0] == 404
        # python-socketio over websocket
        ws = await clients().connect(nginx.url, auth={"token": token,
                                                      "topics": ["order:*", "price:005930"]})
        await ws.wait_for("connected")
        await ws.wait_for("price_update")
        order = place(front, token)
        await until(lambda: filled(ws, [order["order_id"]]), what="a fill through nginx")
        # socket.io-client (Node) over long-polling, websocket and polling→upgrade
        out = run_node("connect.mjs", {"url": nginx.url, "token": token})
        for name in ("auth_polling", "query_polling", "header_polling"):
            assert out[name]["transport"] == "polling", out[name]
            assert out[name]["connected"]["type"] == "connected", out[name]
            assert out[name]["ping"]["ok"] is True, out[name]
        assert out["auth_websocket"]["transport"] == "websocket"
        assert out["auth_polling_upgrade"]["upgraded_to"] == "websocket"
    finally:
        nginx.stop()


# -- status -------------------------------------------------------------------------------


async def test_status_reports_the_whole_cluster(
    cluster: Cluster, clients: Callable[[], Client]
) -> None:
    admin = cluster.engine.login("admin", "adminpass")
    token = cluster.engine.add_user("counted")
    conns = [await connect(gw, clients, token, ["price:035720"]) for gw in cluster.gateways]

    def status() -> dict[str, Any]:
        code, body, _ = cluster.gateways[2].http("GET", "/api/ws/status", token=admin)
        assert code == 200, body
        return dict(body)

    def counted() -> bool:
        s = status()
        mine = [g for g in s["gateways"] if g["id"] in {"gw0", "gw1", "gw2"}]
        # other gateways' figures are as old as their last report (0.5 s here)
        return (len(mine) == 3 and all(g["active_connections"] >= 1 for g in mine)
                and user_id in s["subscriptions"].get("price:035720", []))

    user_id = conns[0].events["connected"][0]["user_id"]
    await until(counted, what="every gateway in the status")
    body = status()
    assert body["scope"] == "cluster" and body["gateway"] == "gw2"
    assert body["active_connections"] == sum(g["active_connections"] for g in body["gateways"])
    assert body["active_connections"] >= len(conns)
    assert body["price_streamer_running"] is True and body["sent"]["price_ticks"] >= 1
    assert body["engine"]["outbox"]["redis_connected"] is True
    # one process says so
    single = cluster.engine.http("GET", "/api/ws/status", token=admin)[1]
    assert single["scope"] == "process"


# -- revocation reaches every gateway ---------------------------------------------------


async def test_logout_through_one_gateway_closes_the_token_on_another(
    cluster: Cluster, clients: Callable[[], Client]
) -> None:
    gw_a, gw_b = cluster.gateways[0], cluster.gateways[1]
    cluster.engine.add_user("leaver", "leaver-pass")
    doomed, kept = gw_a.login("leaver", "leaver-pass"), gw_a.login("leaver", "leaver-pass")
    on_b = await connect(gw_b, clients, doomed, ["order:*"])
    other = await connect(gw_b, clients, kept, ["order:*"])
    status, _, _ = gw_a.http("POST", "/api/auth/logout", token=doomed)
    assert status == 204
    await on_b.wait_for("error")
    assert on_b.events["error"][-1]["code"] == "auth_revoked"
    await until(lambda: not on_b.sio.connected, what="the revoked socket to close")
    assert (await other.call("ping", {}))["ok"] is True  # the other token is untouched
    refused = clients()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(gw_b.url, auth={"token": doomed})
    assert refused.connect_error["code"] == "auth_revoked"


# -- market depth over the bus --------------------------------------------------------


async def test_order_books_trades_and_market_status_through_a_gateway(
    cluster: Cluster, clients: Callable[[], Client]
) -> None:
    token = cluster.engine.add_user("depth")
    c = await connect(cluster.gateways[2], clients, token, ["orderbook:035720", "trade:035720"])
    hello = c.events["connected"][0]
    assert hello["market_status"] in {"pre_open", "open", "closing_auction", "closed"}
    (book,) = (await c.wait_for("orderbook_update", timeout=15))[:1]
    assert book["symbol"] == "035720" and len(book["data"]["asks"]) == 10
    (trades,) = (await c.wait_for("trade_update", timeout=15))[:1]
    assert trades["symbol"] == "035720" and trades["data"]["trades"]
    ack = await c.call("get_orderbook", {"symbol": "035720"})
    assert ack["ok"] is True and len(ack["data"]["bids"]) == 10
    ack = await c.call("get_price", {"symbol": "035720"})
    assert ack["ok"] is True and isinstance(ack["data"]["price"], int)
    channel = "md:orderbook:035720"
    await until(lambda: cluster.redis.cli("PUBSUB", "NUMSUB", channel).split() == [channel, "1"],
                what="one gateway subscribed to the book")


# -- the engine restarts ----------------------------------------------------------------


async def test_engine_restart_keeps_open_orders_and_the_stream(
    tmp_path: Path, clients: Callable[[], Client]
) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    c = Cluster(tmp_path / "c", redis, gateways=1).start()
    try:
        gw = c.gateways[0]
        token = c.engine.add_user("steady")
        live = await connect(gw, clients, token, ["order:*"])
        resting = place(gw, token, order_type="limit", price=53_000)  # far below the market
        await until(lambda: len(updates(live)) == 1, what="the accepted order")
        c.engine.stop()
        status, body, _ = gw.http("GET", "/api/orders", token=token)
        assert (status, body["error"]["code"]) == (503, "unavailable")
        c.engine.start()
        assert live.sio.connected  # the gateway kept its clients
        status, body, _ = gw.http("DELETE", f"/api/orders/{resting['order_id']}", token=token)
        assert status == 200 and body["status"] == "cancelled"  # the order survived
        await until(lambda: updates(live)[-1]["data"]["status"] == "cancelled",
                    what="the cancel after the restart")
        assert seqs(live) == [1, 2]
    finally:
        c.stop()
        redis.stop()


# -- settings ---------------------------------------------------------------------------


def test_cluster_roles_refuse_to_start_half_configured(tmp_path: Path) -> None:
    base = Server(tmp_path / "x").env()
    cases = [
        ({"HTS_ROLE": "gateway", "HTS_REDIS_URL": "redis://127.0.0.1:1/0"}, "HTS_ENGINE_URL"),
        ({"HTS_ROLE": "engine"}, "HTS_REDIS_URL"),
        ({"HTS_ROLE": "nonsense"}, "role must be one of"),
    ]
    for extra, says in cases:
        out = subprocess.run([sys.executable, "-m", "hts_realtime", "serve"],
                             env={**base, **extra}, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and says in out.stderr, (extra, out.stderr)
    no_secret = {k: v for k, v in base.items() if k != "HTS_JWT_SECRET"}
    out = subprocess.run([sys.executable, "-m", "hts_realtime", "serve", "--demo", "--role",
                          "engine"], env={**no_secret, "HTS_REDIS_URL": "redis://127.0.0.1:1/0"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "HTS_JWT_SECRET" in out.stderr, out.stderr
