"""idle_memory: what 1,000 idle authenticated connections cost in RSS.

For each server (hts_realtime, then the Node socket.io peer), on core 0:

1. start it, let it settle, read VmRSS (``RSS_0``);
2. a Node load generator on core 1 opens 1,000 websocket connections
   (socket.io-client, ``forceNew: true, transports: ['websocket']``), 50 at a
   time, each with its own token (1,000 distinct users) and
   ``auth.topics: ['order:*']`` (one room membership each, and no traffic);
3. settle 3 s, read VmRSS (``RSS_1000``) and the server's CPU use while idle;
4. close all, settle, read VmRSS again; then a second round of 1,000 to see
   whether memory is reused (a leak would show as growth round over round).

per connection = (RSS_1000 - RSS_0) / 1000.

socket.io-client (like browsers) offers permessage-deflate; the Python
server's aiohttp websocket accepts it, so each connection carries zlib
compression state; the Node peer does not negotiate it (engine.io's default).
So hts_realtime is measured twice: with the default client, and (fresh
server) with clients that do not offer deflate (``perMessageDeflate: false``).
"""

from __future__ import annotations

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
    settled_rss_kb,
    write_result,
)

NAME = "idle_memory"
CONNECTIONS = 1000
BATCH = 50
ROUNDS = 2


async def _measure(server: HtsServer | PeerServer, tokens: list[str],
                   deflate: bool = True) -> dict[str, Any]:
    pid = server.pid
    rss0 = await settled_rss_kb(pid, settle=2.0)
    rounds: list[dict[str, Any]] = []
    async with NodeLoad("load.mjs", {"url": server.url, "token": tokens[0],
                                     "topics": ["order:*"], "deflate": deflate}) as load:
        for r in range(1, ROUNDS + 1):
            opened = await load.request(
                {"cmd": "open", "n": CONNECTIONS, "batch": BATCH, "tokens": tokens})
            cpu = CpuWindow(pid)
            rss_open = await settled_rss_kb(pid, settle=2.0)
            idle_cpu = cpu.percent()
            await load.request({"cmd": "close"})
            rss_closed = await settled_rss_kb(pid, settle=1.5)
            rounds.append({
                "round": r,
                "opened": opened["total"],
                "failed": opened["failed"],
                "open_seconds": opened["ms"] / 1000,
                "connections_per_second": opened["total"] / (opened["ms"] / 1000),
                "rss_open_kb": rss_open,
                "rss_closed_kb": rss_closed,
                "idle_cpu_percent": idle_cpu,
            })
    first = rounds[0]
    return {
        **server.describe(),
        "client_offers_deflate": deflate,
        "rss_0_kb": rss0,
        "rss_1000_kb": first["rss_open_kb"],
        "per_connection_kb": (first["rss_open_kb"] - rss0) / CONNECTIONS,
        "rounds": rounds,
        "server_log": server.log_report().to_dict(),
    }


async def run() -> dict[str, Any]:
    # every token is checked against the user store: all connections are the demo's testuser
    tokens = [mint() for _ in range(CONNECTIONS)]
    out: dict[str, Any] = {}
    note(f"hts_realtime: {ROUNDS} rounds of {CONNECTIONS} connections")
    with HtsServer(NAME) as hts:
        out["hts_realtime"] = await _measure(hts, tokens)
    note(f"hts_realtime, clients without permessage-deflate: {ROUNDS} rounds")
    with HtsServer(NAME + "-nodeflate") as hts:
        out["hts_realtime_no_deflate"] = await _measure(hts, tokens, deflate=False)
    note(f"node peer: {ROUNDS} rounds of {CONNECTIONS} connections")
    with PeerServer(NAME) as peer:
        out["node_peer"] = await _measure(peer, tokens)

    rows = []
    for label, key in (("hts_realtime (python)", "hts_realtime"),
                       ("hts_realtime, client w/o deflate", "hts_realtime_no_deflate"),
                       ("node socket.io peer", "node_peer")):
        m = out[key]
        r1, r2 = m["rounds"][0], m["rounds"][-1]
        rows.append([
            label,
            fmt(m["rss_0_kb"] / 1024),
            fmt(m["rss_1000_kb"] / 1024),
            fmt(m["per_connection_kb"]),
            fmt(r1["rss_closed_kb"] / 1024),
            fmt(r2["rss_open_kb"] / 1024),
            fmt(r2["rss_closed_kb"] / 1024),
            fmt(r1["connections_per_second"], 0),
            fmt(r1["idle_cpu_percent"]),
            str(r1["failed"] + r2["failed"]),
        ])
    ratio = out["hts_realtime"]["per_connection_kb"] / max(out["node_peer"]["per_connection_kb"],
                                                            1e-9)
    print_table(
        f"idle_memory: {CONNECTIONS} idle websocket connections (auth + 'order:*' room, "
        f"{CONNECTIONS} distinct users), server core 0, generator core 1",
        ["server", "RSS_0 MiB", "RSS_1000 MiB", "KiB/conn", "after close MiB",
         "round2 open MiB", "round2 close MiB", "conn/s", "idle CPU %", "failed"],
        rows,
    )
    ratio_nd = out["hts_realtime_no_deflate"]["per_connection_kb"] / max(
        out["node_peer"]["per_connection_kb"], 1e-9)
    note(f"per-connection RSS: hts_realtime / node peer = {ratio:.2f}x "
         f"({ratio_nd:.2f}x with clients that do not offer deflate)")
    note("round 2 = the same 1,000 connections again after closing round 1: growth there is "
         "memory not reused after disconnects")
    for key in ("hts_realtime", "hts_realtime_no_deflate", "node_peer"):
        log = out[key]["server_log"]
        if log["problems"]:
            note(f"{key} log: {log['problems']} warning/error lines, e.g. {log['examples'][:2]}")
    out["connections"] = CONNECTIONS
    out["batch"] = BATCH
    out["per_connection_ratio"] = ratio
    out["per_connection_ratio_no_deflate"] = ratio_nd
    write_result(NAME, out)
    return out
