"""cluster: the market-day load through 1 and 2 gateways, and Node with a Redis adapter.

Market day: N socket.io-client connections (one Node load generator), each
subscribed to 20 of the 60 symbols (a window rotating with the connection),
prices at 1 Hz per symbol: N x 20 messages a second expected. Connections
are spread round-robin over the gateways.

* **hts, G gateways**: one Redis (``redis-server``, its own port and
  directory), ``serve --role engine`` and G ``serve --role gateway``
  processes, nothing pinned: the two cores are shared by Redis, the engine,
  the gateways and the load generator, as they would be on one small box.
* **node, S servers**: the Node peer (``bench/peer/server.mjs``) S times on
  the same kind of Redis with ``@socket.io/redis-adapter`` 8.3; the first
  one emits every symbol's tick (the engine's job), the adapter carries each
  emit to the others.

Reported per run: delivered/expected over a 10 s window, and where the CPU
went (% of one core per process over the window, and server-side CPU per
delivered message). The machine is shared with other work: the load average
is recorded with the results.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

from bench.common import (
    ROOT,
    SECRET,
    SERVER_CORE,
    WORK_DIR,
    HtsServer,
    NodeLoad,
    PeerServer,
    cpu_seconds,
    fmt,
    free_port,
    mint,
    note,
    pin,
    print_table,
    write_result,
)
from hts_realtime.domain.symbols import SymbolMaster

NAME = "cluster"
LEVELS = (1000, 2000)
PER_CLIENT = 20
WINDOW_S = 10.0
SETTLE_S = 3.0
SYMBOLS = [s.symbol for s in SymbolMaster()]


class Redis:
    def __init__(self, name: str) -> None:
        self.port = free_port()
        self.dir = WORK_DIR / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        log = open(self.dir / "redis.log", "wb")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.dir), "--save", "", "--appendonly", "no"],
            stdout=log, stderr=subprocess.STDOUT)
        for _ in range(100):
            ok = subprocess.run(["redis-cli", "-p", str(self.port), "ping"],
                                capture_output=True, text=True).stdout.strip() == "PONG"
            if ok:
                return self
            subprocess.run(["sleep", "0.05"])
        raise RuntimeError("redis did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class Unpinned(HtsServer):
    """An hts process with no core pinning: the cluster shares both cores."""

    def command(self) -> list[str]:
        return super().command()[len(pin(SERVER_CORE)):]


class RedisPeer(PeerServer):
    def __init__(self, name: str, redis_url: str, ticker: bool) -> None:
        super().__init__(name, 1.0)
        self.redis_url = redis_url
        self.ticker = ticker

    def command(self) -> list[str]:
        cmd = super().command()[len(pin(SERVER_CORE)):]
        cmd += ["--redis", self.redis_url]
        if self.ticker:
            cmd += ["--ticker", "--symbols", ",".join(SYMBOLS)]
        return cmd


async def measure(label: str, urls: list[str], pids: dict[str, int], n: int) -> dict[str, Any]:
    async with NodeLoad("market_day.mjs", {"urls": urls, "token": mint(), "symbols": SYMBOLS,
                                           "per_client": PER_CLIENT}) as load:
        opened = await load.request({"cmd": "open", "n": n, "batch": 100}, timeout=300)
        await asyncio.sleep(SETTLE_S)
        cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
        rec = await load.request({"cmd": "record", "seconds": WINDOW_S}, timeout=120)
        cpu = {k: cpu_seconds(p) - cpu0[k] for k, p in pids.items()}
        await load.request({"cmd": "close"})
    wall = rec["window_ms"] / 1000
    expected = n * PER_CLIENT * wall
    server_cpu = sum(cpu.values())
    return {
        "label": label, "n": n, "opened": opened, "received": rec["received"],
        "expected": expected, "ratio": rec["received"] / expected,
        "per_socket_min": rec["per_socket_min"], "disconnects": rec["disconnects"],
        "cpu_percent": {k: 100 * v / wall for k, v in cpu.items()},
        "load_cpu_percent": rec["load_cpu_percent"],
        "server_us_per_msg": 1e6 * server_cpu / max(1, rec["received"]),
        "loadavg": os.getloadavg(),
    }


async def hts_cluster(gateways: int, n: int) -> dict[str, Any]:
    redis = Redis(f"redis-hts-{gateways}-{n}").start()
    engine = Unpinned(f"engine-{gateways}-{n}", role="engine", redis_url=redis.url)
    gws: list[HtsServer] = []
    try:
        engine.start()
        for i in range(gateways):
            gw = Unpinned(f"gateway{i}-{gateways}-{n}", role="gateway", redis_url=redis.url,
                          engine_url=engine.url, gateway_id=f"gw{i}")
            gw.start()
            gws.append(gw)
        assert redis.proc is not None
        pids = {"redis": redis.proc.pid, "engine": engine.pid,
                **{f"gateway{i}": g.pid for i, g in enumerate(gws)}}
        return await measure(f"hts, {gateways} gateway{'s' if gateways > 1 else ''}",
                             [g.url for g in gws], pids, n)
    finally:
        for g in gws:
            g.stop()
        engine.stop()
        redis.stop()


async def node_cluster(servers: int, n: int) -> dict[str, Any]:
    redis = Redis(f"redis-node-{servers}-{n}").start()
    peers: list[RedisPeer] = []
    try:
        for i in range(servers):
            peers.append(RedisPeer(f"peer{i}-{servers}-{n}", redis.url, ticker=i == 0))
            peers[-1].start()
        assert redis.proc is not None
        pids = {"redis": redis.proc.pid, **{f"node{i}": p.pid for i, p in enumerate(peers)}}
        return await measure(f"node + redis-adapter, {servers} server{'s' if servers > 1 else ''}",
                             [p.url for p in peers], pids, n)
    finally:
        for p in peers:
            p.stop()
        redis.stop()


async def run() -> dict[str, Any]:
    if not (ROOT / "node_modules" / "@socket.io" / "redis-adapter").is_dir():
        raise RuntimeError("node_modules/@socket.io/redis-adapter is missing: run `npm ci`")
    assert SECRET
    runs: list[dict[str, Any]] = []
    for n in LEVELS:
        for kind, size in (("hts", 1), ("hts", 2), ("node", 1), ("node", 2)):
            r = await (hts_cluster(size, n) if kind == "hts" else node_cluster(size, n))
            runs.append(r)
            note(f"{r['label']} N={n}: {r['ratio']:.3f} delivered, "
                 f"{fmt(r['server_us_per_msg'])} us/msg, cpu {r['cpu_percent']}")
    rows = [[r["label"], r["n"], f"{r['ratio']:.3f}", fmt(r["server_us_per_msg"]),
             ", ".join(f"{k} {v:.0f}%" for k, v in r["cpu_percent"].items()),
             f"{r['load_cpu_percent']:.0f}%", f"{r['loadavg'][0]:.1f}"] for r in runs]
    print_table(f"market day: N clients x {PER_CLIENT} of {len(SYMBOLS)} symbols at 1 Hz "
                f"({WINDOW_S:.0f} s window)",
                ["setup", "N", "delivered", "server us/msg", "cpu (% of a core)", "load gen",
                 "loadavg"], rows)
    result = {"runs": runs, "symbols": len(SYMBOLS), "per_client": PER_CLIENT}
    write_result(NAME, result)
    return result
