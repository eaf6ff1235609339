"""market_day: issue 9's fan-out targets, three servers side by side.

Servers, each fresh on core 0: hts_realtime (this tree), the Node socket.io
4.8 peer, and the **floor**: hts_realtime as it was before its own send path
(python-socketio's manager and python-engineio's per-socket queue and writer
task), from a git worktree of commit ``FLOOR_COMMIT`` (made on first use in
the temporary directory, outside the tree so linters do not see it).

The load is ``bench/peer/load_raw.mjs`` on core 1: raw Engine.IO v4 clients
on the ``ws`` package that count frames instead of parsing them, so one core
can take 160,000 messages a second (socket.io-client cannot). Clients do
not offer permessage-deflate here (the servers decline it anyway).

* **market day**: N clients, each subscribed in its handshake to 20 of 40
  symbols (seeded random pick), prices at 1 Hz; N = 1,000, 2,000, 4,000,
  8,000 added to the same server. A 10.0 s window (exactly ten price
  periods, so the edges cancel): delivered/expected = receipts / (N x 20 x
  10). spread = first to last receipt of one tick (bursts of the 10 ms
  receipt histogram separated by >= 300 ms; at saturation bursts merge and
  the spread is the merged burst). CPU us/msg = server CPU / receipts.
* **hot room**: 1,000 clients on one symbol at 20 ticks/s (price interval
  0.05 s), a 5.0 s window: msgs/s delivered and CPU us/msg.

Every load loop is bounded: each level's open has a 240 s timeout, a level
whose clients fail to open or whose delivery falls under 50 % ends that
server's climb.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    CpuWindow,
    HtsServer,
    NodeLoad,
    PeerServer,
    fmt,
    mint,
    note,
    print_table,
    rss_kb,
    summary,
    write_result,
)
from hts_realtime.domain.symbols import SymbolMaster

NAME = "market_day"
FLOOR_COMMIT = "7a9bae698ce8230410c05811631320486044294a"  # main just before the send path
LEVELS = (1000, 2000, 4000, 8000)
PER_CLIENT = 20
N_SYMBOLS = 40
WINDOW_S = 10.0
HOT_N = 1000
HOT_INTERVAL = 0.05
HOT_WINDOW_S = 5.0
SETTLE_S = 2.0
OPEN_TIMEOUT_S = 240.0


def floor_tree() -> Path:
    """A worktree of ``FLOOR_COMMIT`` (python-socketio's send path, as shipped)."""
    path = Path(tempfile.gettempdir()) / f"hts-bench-floor-{FLOOR_COMMIT[:10]}"
    if not (path / "hts_realtime").exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path),
                        FLOOR_COMMIT], check=True, capture_output=True, timeout=120)
    return path


class FloorServer(HtsServer):
    kind = "floor"

    def __init__(self, name: str, **settings: str | float | int) -> None:
        super().__init__(name, **settings)
        self.tree = floor_tree()

    def env(self) -> dict[str, str]:
        env = super().env()
        env["PYTHONPATH"] = str(self.tree)
        return env

    def describe(self) -> dict[str, Any]:
        return {**super().describe(),
                "server": f"hts_realtime at {FLOOR_COMMIT[:10]} (python-socketio send path)"}


def bursts(hist: list[list[int]], bucket_ms: float, gap_ms: float = 300) -> list[float]:
    """Spreads (ms) of the receipt bursts in a ``[bucket, count]`` histogram."""
    out: list[float] = []
    start = last = None
    for b, _ in hist:
        if last is not None and (b - last) * bucket_ms >= gap_ms:
            out.append((last - start + 1) * bucket_ms)  # type: ignore[operator]
            start = None
        if start is None:
            start = b
        last = b
    if start is not None and last is not None:
        out.append((last - start + 1) * bucket_ms)
    return out[1:-1] if len(out) > 2 else out  # the window cuts the first and last


async def _climb(server: HtsServer | PeerServer, symbols: list[str],
                 levels: tuple[int, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token = mint()
    async with NodeLoad("load_raw.mjs", {"url": server.url, "symbols": symbols,
                                         "per_client": PER_CLIENT, "seed": 1,
                                         "deflate": False}) as load:
        total = 0
        for n in levels:
            try:
                opened = await load.request({"cmd": "open", "n": n - total, "batch": 100,
                                             "tokens": [token]}, timeout=OPEN_TIMEOUT_S)
            except TimeoutError:
                # the generator is still busy with that open and will not answer `close`:
                # leaving the block ends it (NodeLoad stops the process)
                note(f"N={n}: opening timed out after {OPEN_TIMEOUT_S:.0f} s; stopping")
                return out
            total = n
            await asyncio.sleep(SETTLE_S)
            rss_before = rss_kb(server.pid)
            cpu = CpuWindow(server.pid)
            rec = await load.request({"cmd": "record", "seconds": WINDOW_S},
                                     timeout=WINDOW_S + 120)
            server_cpu = cpu.percent()
            expected = opened["total"] * PER_CLIENT * WINDOW_S
            spreads = bursts(rec["hist"], rec["bucket_ms"])
            r = {
                "connections": n, "open": opened, "window_s": rec["window_ms"] / 1000,
                "received": rec["received"], "expected": expected,
                "delivered_ratio": rec["received"] / expected if expected else 0.0,
                "per_client_min": rec["per_client_min"], "per_client_max": rec["per_client_max"],
                "msgs_per_s": rec["received"] / (rec["window_ms"] / 1000),
                "spread_ms": summary(spreads),
                "server_cpu_percent": server_cpu,
                "server_cpu_us_per_msg": (server_cpu / 100 * 1e6 * WINDOW_S / rec["received"]
                                          if rec["received"] else None),
                "server_rss_before_kb": rss_before, "server_rss_after_kb": rss_kb(server.pid),
                "load_cpu_percent": rec["load_cpu_percent"], "disconnects": rec["disconnects"],
            }
            out.append(r)
            note(f"{server.kind} N={n}: delivered {100 * r['delivered_ratio']:.1f} %, "
                 f"spread p99 {fmt(r['spread_ms'].get('p99'), 0)} ms, "
                 f"CPU {server_cpu:.0f} %, gen {rec['load_cpu_percent']:.0f} %")
            if opened["failed"] or r["delivered_ratio"] < 0.5:
                note(f"{server.kind}: stopping the climb at N={n}")
                break
        await load.request({"cmd": "close"})
    return out


async def _hot(server: HtsServer | PeerServer) -> dict[str, Any]:
    async with NodeLoad("load_raw.mjs", {"url": server.url, "symbols": ["005930"],
                                         "per_client": 1, "deflate": False}) as load:
        opened = await load.request({"cmd": "open", "n": HOT_N, "batch": 100,
                                     "tokens": [mint()]}, timeout=OPEN_TIMEOUT_S)
        await asyncio.sleep(SETTLE_S)
        cpu = CpuWindow(server.pid)
        rec = await load.request({"cmd": "record", "seconds": HOT_WINDOW_S},
                                 timeout=HOT_WINDOW_S + 120)
        server_cpu = cpu.percent()
        await load.request({"cmd": "close"})
    rate = rec["received"] / (rec["window_ms"] / 1000)
    return {
        "connections": opened["total"], "failed": opened["failed"],
        "offered_msgs_per_s": opened["total"] / HOT_INTERVAL, "msgs_per_s": rate,
        "server_cpu_percent": server_cpu,
        "server_cpu_us_per_msg": server_cpu / 100 * 1e6 / rate if rate else None,
        "load_cpu_percent": rec["load_cpu_percent"],
    }


def _servers(interval: float) -> list[tuple[str, Any]]:
    return [
        ("hts_realtime", lambda tag: HtsServer(f"{NAME}-{tag}", price_interval_seconds=interval)),
        ("node peer", lambda tag: PeerServer(f"{NAME}-peer-{tag}", interval=interval)),
        ("floor (python-socketio)",
         lambda tag: FloorServer(f"{NAME}-floor-{tag}", price_interval_seconds=interval)),
    ]


async def run() -> dict[str, Any]:
    symbols = [s.symbol for s in SymbolMaster()][:N_SYMBOLS]
    results: dict[str, Any] = {"levels": LEVELS, "per_client": PER_CLIENT,
                               "symbols": symbols, "floor_commit": FLOOR_COMMIT,
                               "market_day": {}, "hot_room": {}}
    for label, make in _servers(1.0):
        note(f"market day: {label}, N={LEVELS}")
        with make("day") as server:
            results["market_day"][label] = {"server": server.describe(),
                                            "levels": await _climb(server, symbols, LEVELS)}
    for label, make in _servers(HOT_INTERVAL):
        note(f"hot room: {label}, {HOT_N} clients at {1 / HOT_INTERVAL:.0f} ticks/s")
        with make("hot") as server:
            results["hot_room"][label] = await _hot(server)

    rows = []
    for label, m in results["market_day"].items():
        for r in m["levels"]:
            rows.append([label, fmt(r["connections"]), f"{100 * r['delivered_ratio']:.1f}",
                         fmt(r["msgs_per_s"], 0), fmt(r["spread_ms"].get("p50"), 0),
                         fmt(r["spread_ms"].get("p99"), 0), fmt(r["server_cpu_percent"], 0),
                         fmt(r["server_cpu_us_per_msg"], 1),
                         fmt((r["server_rss_after_kb"]) / 1024, 0),
                         fmt(r["load_cpu_percent"], 0), str(r["disconnects"])])
    print_table("market day: N clients x 20 of 40 symbols at 1 Hz, 10 s window "
                "(server core 0, raw Engine.IO load on core 1)",
                ["server", "N", "delivered %", "msgs/s", "spread p50 ms", "p99 ms",
                 "server CPU %", "CPU us/msg", "RSS MiB", "gen CPU %", "disc"], rows)
    rows = [[label, fmt(h["connections"]), fmt(h["offered_msgs_per_s"], 0),
             fmt(h["msgs_per_s"], 0), fmt(h["server_cpu_percent"], 0),
             fmt(h["server_cpu_us_per_msg"], 1), fmt(h["load_cpu_percent"], 0)]
            for label, h in results["hot_room"].items()]
    print_table(f"hot room: {HOT_N} clients on one symbol at {1 / HOT_INTERVAL:.0f} ticks/s, "
                f"{HOT_WINDOW_S:.0f} s window",
                ["server", "N", "offered/s", "msgs/s", "server CPU %", "CPU us/msg",
                 "gen CPU %"], rows)
    hot, peer = results["hot_room"]["hts_realtime"], results["hot_room"]["node peer"]
    if peer["msgs_per_s"]:
        note(f"hot room: hts/peer delivered = {hot['msgs_per_s'] / peer['msgs_per_s']:.2f}x, "
             f"CPU/msg hts/peer = "
             f"{(hot['server_cpu_us_per_msg'] or 0) / (peer['server_cpu_us_per_msg'] or 1):.2f}x")
    note("gen CPU % near 100 would mean the load generator, not the server, was the limit")
    write_result(NAME, results)
    return results
