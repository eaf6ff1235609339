"""fanout: delivering one price to every subscriber.

N socket.io-client connections (one Node load generator on core 1) all
subscribed to ``price:005930``; the server on core 0. Two modes, each a
fresh server process:

* ``1/s``: the default price interval (1 s). Per tick: the time from the
  first to the last receipt of that tick across the N sockets ("spread"),
  over ~10 ticks.
* ``20/s``: ``HTS_PRICE_INTERVAL_SECONDS=0.05`` (the peer: ``--interval
  0.05``), to stress it: messages/second actually delivered vs offered
  (N x 20), per-tick spread under load, the server's CPU and RSS.

N = 500, then 1,000 (500 more connections on the same server). A tick is
a burst of receipts (1/s mode: bursts are separated by > 0.5 s) or, at 20/s
where bursts overlap, its payload (symbol, quote timestamp, volume, price)
and position within a run of identical payloads (the Python server repeats
the latest quote while the market has not traded; each socket's first and
last run are dropped since the window may cut them). Only ticks received by
all N sockets count ("complete ticks").

The Python server negotiates permessage-deflate with socket.io-client (its
aiohttp websocket accepts the extension the client offers, as browsers do)
and so compresses every frame for every socket; the Node peer does not
(engine.io's default). The 20/s N=1,000 case is also run against a fresh
Python server with clients that do not offer deflate, to show that cost.

CPU us/msg = server CPU seconds / messages delivered in the window.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from typing import Any

from bench.common import (
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

NAME = "fanout"
TOPIC = "price:005930"
LEVELS = (500, 1000)
MODES: tuple[tuple[str, float, float], ...] = (
    # label, price interval (s), recording window (s)
    ("1/s", 1.0, 9.5),
    ("20/s", 0.05, 4.0),
)
SETTLE_S = 1.0


def ticks_by_gap(rec: dict[str, Any], gap_ms: float) -> list[list[float]]:
    """Ticks as bursts of receipts separated by more than ``gap_ms`` (1/s mode,
    where a tick's spread is far below the interval)."""
    times = sorted(t for flat in rec["sockets"] for t in flat[0::2])
    ticks: list[list[float]] = []
    for t in times:
        if ticks and t - ticks[-1][-1] <= gap_ms:
            ticks[-1].append(t)
        else:
            ticks.append([t])
    return ticks


def ticks_by_payload(rec: dict[str, Any]) -> list[list[float]]:
    """Ticks keyed by (payload, position in its run of identical payloads),
    dropping each socket's first and last run (20/s mode, where ticks overlap)."""
    ticks: dict[tuple[int, int], list[float]] = defaultdict(list)
    for flat in rec["sockets"]:
        ts: list[float] = flat[0::2]
        ks: list[int] = flat[1::2]
        runs: list[tuple[int, int]] = []
        i = 0
        while i < len(ks):
            j = i
            while j + 1 < len(ks) and ks[j + 1] == ks[i]:
                j += 1
            runs.append((i, j))
            i = j + 1
        for a, b in runs[1:-1]:
            for idx in range(a, b + 1):
                ticks[(ks[a], idx - a)].append(ts[idx])
    return list(ticks.values())


def analyze(rec: dict[str, Any], n: int, interval: float) -> dict[str, Any]:
    """Per-tick spread and delivered rate from a load.mjs ``record`` answer.
    A tick counts if all ``n`` sockets received it exactly once ("complete")."""
    if interval >= 0.5:
        groups = ticks_by_gap(rec, gap_ms=interval * 1000 / 2)
    else:
        groups = ticks_by_payload(rec)
    complete = sorted((v for v in groups if len(v) == n), key=min)
    spreads = [max(v) - min(v) for v in complete]
    offsets = [t - min(v) for v in complete for t in v]
    firsts = [min(v) for v in complete]
    gaps = [b - a for a, b in itertools.pairwise(firsts)]
    window_s = rec["window_ms"] / 1000
    return {
        "connections": n,
        "window_s": window_s,
        "received": rec["received"],
        "msgs_per_s": rec["received"] / window_s,
        "complete_ticks": len(complete),
        "incomplete_ticks": sum(1 for v in groups if len(v) != n),
        "spread_ms": summary(spreads),
        "receipt_offset_ms": summary(offsets),
        "tick_gap_ms": summary(gaps),
        "disconnects": rec["disconnects"],
        "load_cpu_percent": rec["load_cpu_percent"],
    }


async def _levels(server: HtsServer | PeerServer, interval: float, window: float,
                  levels: tuple[int, ...], deflate: bool = True) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with NodeLoad("load.mjs", {"url": server.url, "token": mint(),
                                     "topics": [TOPIC], "deflate": deflate}) as load:
        total = 0
        for n in levels:
            opened = await load.request({"cmd": "open", "n": n - total, "batch": 50},
                                        timeout=180)
            total = n
            await asyncio.sleep(SETTLE_S)
            rss_before = rss_kb(server.pid)
            cpu = CpuWindow(server.pid)
            pending = asyncio.create_task(
                load.request({"cmd": "record", "seconds": window}, timeout=window + 120))
            await asyncio.sleep(window)
            server_cpu = cpu.percent()
            rec = await pending
            r = analyze(rec, n, interval)
            r.update({
                "interval_s": interval,
                "offered_msgs_per_s": n / interval,
                "delivered_ratio": r["msgs_per_s"] / (n / interval),
                "server_cpu_percent": server_cpu,
                "server_cpu_us_per_msg": (server_cpu / 100 * 1e6 / r["msgs_per_s"]
                                          if r["msgs_per_s"] else None),
                "server_rss_before_kb": rss_before,
                "server_rss_after_kb": rss_kb(server.pid),
                "open_failed": opened["failed"],
                "client_deflate": deflate,
            })
            out.append(r)
        await load.request({"cmd": "close"})
    return out


def _row(server: str, r: dict[str, Any]) -> list[str]:
    s = r["spread_ms"]
    return [
        server + ("" if r["client_deflate"] else " (no deflate)"),
        fmt(r["connections"]),
        f"{r['complete_ticks']}",
        fmt(s.get("p50")), fmt(s.get("p95")), fmt(s.get("max")),
        fmt(r["tick_gap_ms"].get("p50"), 0),
        fmt(r["msgs_per_s"], 0),
        fmt(r["offered_msgs_per_s"], 0),
        fmt(100 * r["delivered_ratio"], 0),
        fmt(r["server_cpu_percent"], 0),
        fmt(r["server_cpu_us_per_msg"], 0),
        fmt(r["load_cpu_percent"], 0),
        fmt((r["server_rss_after_kb"] - r["server_rss_before_kb"]) / 1024),
        str(r["disconnects"]),
    ]


async def run() -> dict[str, Any]:
    results: dict[str, Any] = {"topic": TOPIC, "levels": LEVELS, "modes": {}}
    for label, interval, window in MODES:
        mode: dict[str, Any] = {"interval_s": interval, "window_s": window}
        note(f"{label}: hts_realtime, N={LEVELS}, {window:.0f} s windows")
        with HtsServer(f"{NAME}-{interval}", price_interval_seconds=interval) as hts:
            mode["hts_realtime"] = await _levels(hts, interval, window, LEVELS)
            mode["hts_server"] = hts.describe()
            mode["hts_log"] = hts.log_report().to_dict()
        if interval < 1:
            note(f"{label}: hts_realtime (fresh), N={LEVELS[-1]}, clients without deflate")
            with HtsServer(f"{NAME}-{interval}-nodeflate",
                           price_interval_seconds=interval) as hts:
                mode["hts_realtime_no_deflate"] = await _levels(
                    hts, interval, window, (LEVELS[-1],), deflate=False)
        note(f"{label}: node peer, N={LEVELS}")
        with PeerServer(f"{NAME}-peer-{interval}", interval=interval) as peer:
            mode["node_peer"] = await _levels(peer, interval, window, LEVELS)
            mode["peer_log"] = peer.log_report().to_dict()
        results["modes"][label] = mode

        rows = [_row("hts_realtime", r) for r in mode["hts_realtime"]]
        rows += [_row("hts_realtime", r) for r in mode.get("hts_realtime_no_deflate", [])]
        rows += [_row("node peer", r) for r in mode["node_peer"]]
        print_table(
            f"fanout {label} (price interval {interval} s, {window:.0f} s window, "
            f"server core 0, generator core 1): spread = first->last receipt of one tick, ms",
            ["server", "N", "ticks", "spread p50", "p95", "max", "tick gap p50", "msgs/s",
             "offered/s", "delivered %", "server CPU %", "CPU us/msg", "gen CPU %", "RSS +MiB",
             "disc"],
            rows,
        )
        ratios = []
        for h, p in zip(mode["hts_realtime"], mode["node_peer"], strict=True):
            hs, ps = h["spread_ms"].get("p50"), p["spread_ms"].get("p50")
            ratio_spread = hs / ps if hs and ps else float("nan")
            ratio_rate = p["msgs_per_s"] / h["msgs_per_s"] if h["msgs_per_s"] else float("nan")
            ratios.append({"connections": h["connections"],
                           "spread_p50_hts_over_peer": ratio_spread,
                           "msgs_per_s_peer_over_hts": ratio_rate})
            note(f"N={h['connections']}: spread p50 hts/peer = {ratio_spread:.2f}x, "
                 f"delivered msgs/s peer/hts = {ratio_rate:.2f}x")
        mode["ratios"] = ratios
        for key in ("hts_log", "peer_log"):
            if mode[key]["problems"]:
                note(f"{key}: {mode[key]['problems']} warning/error lines, "
                     f"e.g. {mode[key]['examples'][:2]}")
    note("1/s: msgs/s is quantised by whole ticks in the window; 20/s: a streamer that cannot "
         "keep the cadence skips ticks (no backlog), so delivered % < 100 means fewer ticks")
    note("gen CPU % near 100 would mean the load generator, not the server, limited the rate")
    write_result(NAME, results)
    return results
