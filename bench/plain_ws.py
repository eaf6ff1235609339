"""plain_ws: a market day over the plain WebSocket (/api/ws) beside Socket.IO.

Both framings sit on one request core and one send path; this measures
what the framing itself costs. Each connection subscribes (in its
handshake) to 20 of 40 symbols at the default 1 s price interval, as in
issue 9's market day; N = 500, 1,000, 2,000 connections from one Node
load generator (``bench/peer/load_framings.mjs``: socket.io-client 4.8, or
the ``ws`` package on ``/api/ws``; neither offers permessage-deflate), each
framing against a fresh server on core 0.

* delivered % = receipts / what the window's interior ticks owed (each
  tick times its symbol's subscribers), and ticks per second per symbol
  (about 1 when the 1 s cadence holds);
* spread = first to last receipt of one tick of one symbol across all its
  subscribers, over the ticks every subscriber received ("complete");
* CPU us/msg = server CPU seconds / receipts.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from bench.common import (
    CpuWindow,
    HtsServer,
    NodeLoad,
    fmt,
    http_json,
    mint,
    note,
    print_table,
    rss_kb,
    summary,
    write_result,
)

NAME = "plain_ws"
LEVELS = (500, 1000, 2000)
PER_CLIENT = 20
N_SYMBOLS = 40
WINDOW_S = 9.5
SETTLE_S = 2.0
EDGE_S = 1.5  # ticks this close to either end of the window may be cut by it


def subscribers(n: int, symbols: list[str]) -> Counter[str]:
    """How many of ``n`` connections hold each symbol (as load_framings.mjs assigns)."""
    counts: Counter[str] = Counter()
    for i in range(n):
        for k in range(PER_CLIENT):
            counts[symbols[(i + k) % len(symbols)]] += 1
    return counts


def analyze(rec: dict[str, Any], n: int, symbols: list[str]) -> dict[str, Any]:
    """delivered % over the window's interior ticks (first receipt at least
    ``EDGE_S`` after the window opened, last at least ``EDGE_S`` before it closed):
    receipts / each tick's subscribers. A tick nobody got is not counted here: the
    cadence shows in ticks per second per symbol."""
    subs = subscribers(n, symbols)
    t0, t1 = rec["start_ms"], rec["start_ms"] + rec["window_ms"]
    edge = EDGE_S * 1000
    interior = [t for t in rec["ticks"] if t[2] >= t0 + edge and t[3] <= t1 - edge]
    complete = [t for t in interior if t[1] == subs[t[0]]]
    owed = sum(subs[t[0]] for t in interior)
    window_s = rec["window_ms"] / 1000
    return {
        "connections": n,
        "window_s": window_s,
        "received": rec["received"],
        "msgs_per_s": rec["received"] / window_s,
        "delivered_ratio": sum(t[1] for t in interior) / owed if owed else 0.0,
        "ticks_per_symbol_per_s": len(rec["ticks"]) / len(symbols) / window_s,
        "interior_ticks": len(interior),
        "complete_ticks": len(complete),
        "spread_ms": summary(t[3] - t[2] for t in complete),
        "disconnects": rec["disconnects"],
        "load_cpu_percent": rec["load_cpu_percent"],
    }


async def _levels(kind: str, symbols: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    tokens = [mint()]  # the demo user (ids are checked against the user store)
    with HtsServer(f"{NAME}-{kind}") as hts:
        async with NodeLoad("load_framings.mjs", {"url": hts.url, "kind": kind,
                                                  "symbols": symbols,
                                                  "per_client": PER_CLIENT}) as load:
            total = 0
            for n in LEVELS:
                opened = await load.request({"cmd": "open", "n": n - total, "batch": 50,
                                             "tokens": tokens}, timeout=300)
                total = n
                await asyncio.sleep(SETTLE_S)
                rss = rss_kb(hts.pid)
                cpu = CpuWindow(hts.pid)
                pending = asyncio.create_task(
                    load.request({"cmd": "record", "seconds": WINDOW_S}, timeout=WINDOW_S + 120))
                await asyncio.sleep(WINDOW_S)
                server_cpu = cpu.percent()
                r = analyze(await pending, n, symbols)
                r.update({
                    "framing": kind,
                    "server_cpu_percent": server_cpu,
                    "server_cpu_us_per_msg": (server_cpu / 100 * 1e6 / r["msgs_per_s"]
                                              if r["msgs_per_s"] else None),
                    "server_rss_mib": rss / 1024,
                    "open_failed": opened["failed"],
                })
                out.append(r)
            await load.request({"cmd": "close"})
        out.append({"log": hts.log_report().to_dict(), "server": hts.describe()})
    return out


def _row(r: dict[str, Any]) -> list[str]:
    s = r["spread_ms"]
    return [
        r["framing"], fmt(r["connections"]), fmt(r["msgs_per_s"], 0),
        fmt(100 * r["delivered_ratio"], 1), fmt(r["ticks_per_symbol_per_s"], 2),
        f"{r['complete_ticks']}/{r['interior_ticks']}",
        fmt(s.get("p50")), fmt(s.get("p99")), fmt(r["server_cpu_percent"], 0),
        fmt(r["server_cpu_us_per_msg"], 1), fmt(r["load_cpu_percent"], 0),
        fmt(r["server_rss_mib"], 0), str(r["disconnects"] + r["open_failed"]),
    ]


async def run() -> dict[str, Any]:
    results: dict[str, Any] = {"levels": LEVELS, "per_client": PER_CLIENT}
    with HtsServer(f"{NAME}-symbols") as probe:
        _, listing = http_json("GET", probe.url + "/api/symbols")
    symbols = [s["symbol"] for s in listing][:N_SYMBOLS]
    results["symbols"] = symbols
    rows = []
    for kind in ("plain", "socketio"):
        note(f"{kind}: N={LEVELS}, {PER_CLIENT} of {N_SYMBOLS} symbols each, 1 s ticks")
        levels = await _levels(kind, symbols)
        results[kind] = levels
        rows += [_row(r) for r in levels if "framing" in r]
        log = levels[-1]["log"]
        if log["problems"]:
            note(f"{kind}: {log['problems']} warning/error lines, e.g. {log['examples'][:2]}")
    print_table(
        f"plain_ws: market day ({PER_CLIENT} of {N_SYMBOLS} symbols per connection, 1 s), "
        "plain WebSocket vs Socket.IO on the same server build; spread = first->last receipt "
        "of one symbol's tick, ms",
        ["framing", "N", "msgs/s", "delivered %", "ticks/s/sym", "complete", "spread p50", "p99",
         "server CPU %", "CPU us/msg", "gen CPU %", "RSS MiB", "lost conns"],
        rows,
    )
    write_result(NAME, results)
    return results
