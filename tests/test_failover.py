"""A standby engine that takes over: two ``--role engine`` processes on one real
PostgreSQL, a gateway that knows both, Redis, and real clients.

One cluster for the module (PostgreSQL from its own data directory, redis-server,
engines ``a`` and ``b``, one gateway with ``HTS_ENGINE_URL=a,b``); each fault is
done to whichever engine leads at the time, and the killed one comes back as the
standby for the next test.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.cluster import RedisServer
from tests.postgres import PostgresServer
from tests.support import Client, Server

LEASE = "1.5"
ORDER = {"symbol": "005930", "side": "buy", "quantity": 1, "order_type": "market"}
STRATEGY = {"kind": "breakout", "symbol": "000660", "params": {"window": 2}, "quantity": 1,
            "auto_trade": True}


class HaCluster:
    def __init__(self, workdir: Path, redis: RedisServer, database_url: str) -> None:
        self.redis = redis
        common = {"HTS_ROLE": "engine", "HTS_REDIS_URL": redis.url,
                  "HTS_DATABASE_URL": database_url, "HTS_LEASE_SECONDS": LEASE,
                  "HTS_STRATEGY_STATUS_INTERVAL_SECONDS": "0.5",
                  "HTS_WRITE_RATE_PER_SECOND": "1000", "HTS_WRITE_RATE_BURST": "1000"}
        self.engines = {name: Server(workdir / name, dict(common)) for name in ("a", "b")}
        urls = ",".join(e.url for e in self.engines.values())
        self.gateway = Server(workdir / "gateway", {
            "HTS_ROLE": "gateway", "HTS_REDIS_URL": redis.url, "HTS_ENGINE_URL": urls,
            "HTS_GATEWAY_ID": "gw", "HTS_CLUSTER_STATUS_INTERVAL_SECONDS": "0.5",
            "HTS_ENGINE_TIMEOUT_SECONDS": "3",
            "HTS_WRITE_RATE_PER_SECOND": "1000", "HTS_WRITE_RATE_BURST": "1000"})

    def start(self) -> HaCluster:
        self.engines["a"].start()  # finds the lease free: leads before its port opens
        self.engines["b"].start()  # a standby
        self.gateway.start()
        return self

    def stop(self) -> None:
        for srv in (self.gateway, *self.engines.values()):
            srv.stop()

    def leader(self, timeout: float = 30.0) -> str:
        """The name of the engine that serves as leader (a standby answers 503 to the
        trading surface, e.g. ``GET /api/market``); waits for one, then checks it is the
        only one. (``/readyz`` also weighs the market feed's pace: a loaded machine can
        make a leader briefly not ready.)"""
        deadline = time.monotonic() + timeout
        while True:
            leading = [name for name, e in self.engines.items()
                       if e.proc is not None and e.proc.poll() is None
                       and e.http("GET", "/api/market")[0] == 200]
            if leading or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(leading) == 1, leading
        return leading[0]


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    srv = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def ha(tmp_path_factory: pytest.TempPathFactory, redis: RedisServer,
       postgres: PostgresServer) -> Iterator[HaCluster]:
    c = HaCluster(tmp_path_factory.mktemp("ha"), redis, postgres.create_database("ha")).start()
    yield c
    c.stop()


async def until(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.05)


def seqs(client: Client) -> list[int]:
    """Every private event's seq, in arrival order."""
    return [data["seq"] for event, data in client.order
            if isinstance(data, dict) and event in ("order_update", "strategy_status",
                                                     "strategy_signal")]


class OrderFlow:
    """Clients placing market orders through the gateway, each with its own
    ``Idempotency-Key``; a refused attempt (503, a dropped connection) is retried
    with the same key until it is answered."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens
        self.acked: dict[str, dict[str, str]] = {u: {} for u in tokens}  # user: key -> id
        self.retries = 0
        self.refusals: list[tuple[int, str, str | None]] = []  # status, code, Retry-After
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def count(self) -> int:
        for task in self._tasks:  # a client that died says why, at once
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise AssertionError("an order client died") from task.exception()
        return sum(len(keys) for keys in self.acked.values())

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(user)) for user in self.tokens]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def _run(self, user: str) -> None:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
            while not self._stop.is_set():
                key = uuid.uuid4().hex
                while True:  # until this key is answered: the same key on every retry
                    try:
                        async with http.post(self.url + "/api/orders", json=ORDER,
                                             headers={**headers, "Idempotency-Key": key}) as r:
                            body = await r.json()
                            if r.status in (200, 201):
                                self.acked[user][key] = body["order_id"]
                                break
                            assert r.status == 503, (r.status, body)
                            # an engine's address never reaches a client
                            assert "X-HTS-Leader" not in r.headers, r.headers
                            self.refusals.append((r.status, body["error"]["code"],
                                                  r.headers.get("Retry-After")))
                    except (aiohttp.ClientError, TimeoutError):
                        pass  # no answer (a dropped connection, or none in 15 s): retry
                    self.retries += 1
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.02)


async def login(gw: Server, engine: Server, name: str) -> str:
    await asyncio.to_thread(engine.add_user, name)  # the CLI, on the shared database
    return gw.login(name, "password1")


async def test_kill_9_of_the_leader_during_an_order_flow(
        ha: HaCluster, clients: Callable[[], Client]) -> None:
    gw = ha.gateway
    leader = ha.engines[ha.leader()]
    names = [f"flow{i}" for i in range(3)]
    tokens = {n: await login(gw, leader, n) for n in names}
    live = {n: await clients().connect(gw.url, auth={"token": tokens[n], "topics": ["order:*"]})
            for n in names[:2]}
    # a running strategy (auto-trading: it places and fills orders of its own)
    trader = await login(gw, leader, "trader")
    status, run, _ = gw.http("POST", "/api/strategies", STRATEGY, trader)
    assert status == 201, run
    assert gw.http("POST", f"/api/strategies/{run['strategy_id']}/start", None, trader)[0] == 200
    watcher = await clients().connect(gw.url, auth={"token": trader, "topics": [
        "order:*", f"strategy:{run['strategy_id']}"]})
    await watcher.wait_for("strategy_status", 2)
    # the third user's client leaves before the kill and resumes after it with last_seq
    leaver = await clients().connect(gw.url, auth={"token": tokens[names[2]],
                                                    "topics": ["order:*"]})

    prices = await clients().connect(gw.url, auth={"token": trader,
                                                    "topics": ["price:005930"]})
    await prices.wait_for("price_update", 2)

    flow = OrderFlow(gw.url, tokens)
    flow.start()
    await until(lambda: flow.count() >= 30, what="orders before the kill")
    await until(lambda: len(seqs(leaver)) >= 3, what="the leaver's first events")
    await leaver.disconnect()
    left_at = seqs(leaver)[-1]
    volume_before = prices.events["price_update"][-1]["data"]["volume"]
    await asyncio.sleep(0.5)  # (a few market steps: the volume above is committed)
    priced = len(prices.events["price_update"])
    leader.kill()  # kill -9
    killed_at = flow.count()
    await until(lambda: flow.count() >= killed_at + 30, what="orders after the takeover")
    await flow.stop()

    survivor = ha.engines[ha.leader()]
    assert survivor is not leader
    # requests during the takeover were refused as retryable, never as an error
    assert flow.retries > 0
    assert all(code == "unavailable" and after == "1" for _, code, after in flow.refusals)

    # every acknowledged order exists once; every key placed exactly one order
    for name in names:
        status, orders, _ = gw.http("GET", "/api/orders", token=tokens[name])
        assert status == 200
        ids = [o["order_id"] for o in orders]
        assert len(ids) == len(set(ids)) == len(flow.acked[name])
        assert set(ids) == set(flow.acked[name].values())
    # each live client got every fill, once, in order: seqs without a gap or a repeat
    for name in names[:2]:
        acked = set(flow.acked[name].values())

        def filled(client: Client = live[name], acked: set[str] = acked) -> bool:
            return acked <= {u["data"]["order_id"] for u in client.events["order_update"]
                             if u["data"]["status"] == "filled"}
        await until(filled, what=f"{name}'s fills")
        got = seqs(live[name])
        assert got == list(range(got[0], got[0] + len(got))), got
    # the leaver resumes from its last_seq: exactly what came after, once
    back = await clients().connect(gw.url, auth={"token": tokens[names[2]],
                                                  "topics": ["order:*"], "last_seq": left_at})
    mine = set(flow.acked[names[2]].values())

    def resumed() -> bool:
        updates = [*leaver.events["order_update"], *back.events["order_update"]]
        return mine <= {u["data"]["order_id"] for u in updates
                        if u["data"]["status"] == "filled"}
    await until(resumed, what="the resume")
    got = seqs(back)
    assert got == list(range(left_at + 1, left_at + 1 + len(got))), (left_at, got)

    # the strategy keeps running on the new leader
    seen = len(watcher.events["strategy_status"])
    await watcher.wait_for("strategy_status", seen + 2, timeout=30)
    status, now_run, _ = gw.http("GET", f"/api/strategies/{run['strategy_id']}", token=trader)
    assert status == 200 and now_run["state"] == "running"
    got = seqs(watcher)
    assert got == list(range(got[0], got[0] + len(got))), got
    # prices continue from where the old leader left them: the day's volume goes on
    # (a fresh simulation would start the day again from nothing)
    await prices.wait_for("price_update", priced + 2)
    assert all(p["data"]["volume"] >= volume_before
               for p in prices.events["price_update"][priced:]), "the market restarted"

    # the killed engine comes back as the standby: it refuses and names the leader
    leader.start()
    status, body, headers = leader.http("GET", "/api/orders", token=tokens[names[0]])
    assert (status, body["error"]["code"]) == (503, "unavailable")
    assert headers["Retry-After"] == "1" and headers["X-HTS-Leader"] == survivor.url
    assert leader.http("GET", "/readyz")[0] == 503
    assert ha.leader() != "" and survivor is ha.engines[ha.leader()]


async def assert_once_and_in_order(gw: Server, flow: OrderFlow, tokens: dict[str, str],
                                   live: dict[str, Client]) -> None:
    """Every acknowledged order exists once (one per key); each live client got every
    one of its orders filled, in seq order, without a gap or a repeat."""
    for name, token in tokens.items():
        status, orders, _ = gw.http("GET", "/api/orders", token=token)
        assert status == 200
        ids = [o["order_id"] for o in orders]
        assert len(ids) == len(set(ids)) == len(flow.acked[name])
        assert set(ids) == set(flow.acked[name].values())
    for name, client in live.items():
        acked = set(flow.acked[name].values())

        def filled(client: Client = client, acked: set[str] = acked) -> bool:
            return acked <= {u["data"]["order_id"] for u in client.events["order_update"]
                             if u["data"]["status"] == "filled"}
        await until(filled, what=f"{name}'s fills")
        got = seqs(client)
        assert got == list(range(got[0], got[0] + len(got))), got


async def test_a_leader_paused_past_its_lease_is_fenced_off_and_steps_down(
        ha: HaCluster, clients: Callable[[], Client]) -> None:
    gw = ha.gateway
    paused = ha.engines[ha.leader()]
    assert paused.proc is not None
    names = ["pause0", "pause1"]
    tokens = {n: await login(gw, paused, n) for n in names}
    live = {n: await clients().connect(gw.url, auth={"token": tokens[n], "topics": ["order:*"]})
            for n in names}
    prices = await clients().connect(gw.url, auth={"token": tokens[names[0]],
                                                    "topics": ["price:005930"]})
    await prices.wait_for("price_update", 2)
    flow = OrderFlow(gw.url, tokens)
    flow.start()
    await until(lambda: flow.count() >= 20, what="orders before the pause")
    os.kill(paused.proc.pid, signal.SIGSTOP)
    try:
        stopped_at = flow.count()
        # the standby takes over once the lease has run out; orders go on through it
        await until(lambda: flow.count() >= stopped_at + 20, what="orders after the takeover")
        successor = next(e for e in ha.engines.values() if e is not paused)
        assert successor.http("GET", "/api/market")[0] == 200  # it leads
    finally:
        os.kill(paused.proc.pid, signal.SIGCONT)
    woke = len(prices.events["price_update"])
    highest = max(p["data"]["volume"] for p in prices.events["price_update"])
    # it wakes believing nothing: its own clock says the lease ran out, so it stops
    # the market and publishing, its queued writes are refused, and it steps down
    await until(lambda: "leadership lost" in paused.log(), what="the old leader to step down")
    status, body, _ = paused.http("GET", "/api/orders", token=tokens[names[0]])
    assert (status, body["error"]["code"]) == (503, "unavailable")
    # it names the new leader (once it has read the lease again: its connections to
    # the database may have been closed while it was stopped)
    await until(lambda: paused.http("GET", "/api/orders", token=tokens[names[0]])[2]
                .get("X-HTS-Leader") == successor.url, what="the hint to the new leader")
    resumed = flow.count()
    await until(lambda: flow.count() >= resumed + 10, what="orders after the wake")
    await flow.stop()
    assert ha.leader() != "" and ha.engines[ha.leader()] is successor

    await assert_once_and_in_order(gw, flow, tokens, live)
    # no client saw a price from the woken leader: its market stood at the pause, the
    # new leader's day has traded on since, so any of its prints would go back in volume
    await prices.wait_for("price_update", woke + 3)
    assert all(p["data"]["volume"] >= highest for p in prices.events["price_update"][woke:])


async def test_postgresql_restarted_mid_flow(
        ha: HaCluster, clients: Callable[[], Client], postgres: PostgresServer) -> None:
    gw = ha.gateway
    leader = ha.engines[ha.leader()]
    names = ["pg0", "pg1"]
    tokens = {n: await login(gw, leader, n) for n in names}
    live = {n: await clients().connect(gw.url, auth={"token": tokens[n], "topics": ["order:*"]})
            for n in names}
    flow = OrderFlow(gw.url, tokens)
    flow.start()
    await until(lambda: flow.count() >= 20, what="orders before the restart")
    await asyncio.to_thread(postgres.restart, 1.0)  # an immediate stop: like a crash
    restarted = flow.count()
    await until(lambda: flow.count() >= restarted + 20, timeout=60,
                what="orders after the restart")
    await flow.stop()
    assert flow.retries > 0  # some requests met the outage and were retried
    await assert_once_and_in_order(gw, flow, tokens, live)
