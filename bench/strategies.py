"""strategies: how many running strategies one process sustains.

One hts_realtime server on core 0 with default market settings (market tick
0.5 s, price interval 1 s) and ``HTS_MAX_STRATEGIES_PER_USER=500``: the K
strategies belong to 10 users made with ``hts-realtime user add`` (the
default cap is 100 per user). Each strategy is
``{"kind": "ma_crossover", "symbol": <round-robin over GET /api/symbols>,
"quantity": 1, "auto_trade": false}`` (default windows 5/20), created and
started over HTTP by 8 concurrent workers on core 1.

First a 5 s baseline with K = 0. Then for K = 100, 1,000, 5,000
(cumulative, same server; stops at the first K that is not sustained):
create and start the new ones, wait WARMUP_S (a 20-price window needs
~14 s of trades to warm up; after that, strategies
holding a hypothetical position journal a ``strategy_status`` at most once a
second), then measure for WINDOW_S:

* price_update inter-arrival, per symbol, of a python-socketio client
  subscribed to 3 ``price:`` topics (should stay ~1.0 s);
* the server's CPU (utime+stime from /proc over the window), % of one core;
* market tick lag: the same client polls ``get_price`` 20x a second over 10
  symbols; each quote's timestamp is the market step that made it, so the
  distinct timestamps are the step times: their lateness against the 0.5 s
  schedule (relative to the least-late step in the window) is the tick lag;
  the ``get_price`` round trip shows event-loop stalls;
* private events journaled per second (the users' ``last_seq``, read from
  the SQLite file read-only) and RSS.

"sustained" = price_update interval p99 < 1.2 s, CPU < 80 % of one core and
``get_price`` round trip p99 < 100 ms (the event loop still answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import time
from datetime import datetime
from typing import Any

import aiohttp
import socketio

from bench.common import (
    CpuWindow,
    HtsServer,
    fmt,
    http_json,
    login,
    note,
    print_table,
    rss_kb,
    summary,
    write_result,
)

NAME = "strategies"
LEVELS = (100, 1000, 5000, 10000, 20000)
USERS = 10
PER_USER_CAP = 2000
WORKERS = 8
WARMUP_S = 15.0
WINDOW_S = 10.0
BASELINE_WINDOW_S = 5.0  # K = 0
MARKET_TICK_S = 0.5
PRICE_TOPICS = ("price:005930", "price:000660", "price:035420")
PROBE_SYMBOLS = 10
PROBE_HZ = 20
MAX_INTERVAL_P99_S = 1.2
MAX_CPU_PERCENT = 80.0
MAX_REQUEST_P99_MS = 100.0  # a get_price answer slower than this is a stalled event loop


class Monitor:
    """A python-socketio client: price_update arrivals and a get_price probe."""

    def __init__(self, url: str, token: str, probe_symbols: list[str]) -> None:
        self.url = url
        self.token = token
        self.probe_symbols = probe_symbols
        self.sio = socketio.AsyncClient(reconnection=False)
        self.arrivals: dict[str, list[float]] = {}
        self.steps: set[float] = set()  # market step times (quote timestamps, epoch s)
        self.rtts: list[float] = []
        self.probe_errors = 0
        self.recording = False
        self._probe: asyncio.Task[None] | None = None
        self.sio.on("price_update", self._on_price)

    async def _on_price(self, msg: dict[str, Any]) -> None:
        if self.recording:
            self.arrivals.setdefault(msg["symbol"], []).append(time.monotonic())

    async def start(self) -> None:
        await self.sio.connect(self.url, auth={"token": self.token, "topics": list(PRICE_TOPICS)},
                               transports=["websocket"], wait_timeout=10)
        self._probe = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        period = 1.0 / PROBE_HZ
        for symbol in itertools.cycle(self.probe_symbols):
            t0 = time.monotonic()
            try:
                ack = await self.sio.call("get_price", {"symbol": symbol}, timeout=10)
                rtt = time.monotonic() - t0
                if self.recording and ack.get("ok"):
                    self.rtts.append(rtt)
                    self.steps.add(datetime.fromisoformat(ack["data"]["timestamp"]).timestamp())
            except Exception:
                self.probe_errors += 1
            await asyncio.sleep(max(0.0, period - (time.monotonic() - t0)))

    def begin(self) -> None:
        self.arrivals.clear()
        self.steps.clear()
        self.rtts.clear()
        self.probe_errors = 0
        self.recording = True

    def end(self) -> dict[str, Any]:
        self.recording = False
        intervals = [b - a for ts in self.arrivals.values() for a, b in itertools.pairwise(ts)]
        steps = sorted(self.steps)
        lag = tick_lag(steps, MARKET_TICK_S)
        gaps = [b - a for a, b in itertools.pairwise(steps)]
        return {
            "price_interval_s": summary(intervals),
            "price_updates": sum(len(v) for v in self.arrivals.values()),
            "tick_lag_ms": summary(x * 1000 for x in lag),
            "step_gap_ms": summary(x * 1000 for x in gaps),
            "steps_seen": len(steps),
            "get_price_rtt_ms": summary(x * 1000 for x in self.rtts),
            "probe_errors": self.probe_errors,
        }

    async def stop(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        await self.sio.disconnect()


def tick_lag(steps: list[float], tick: float) -> list[float]:
    """Lateness of each market step against the ``tick`` schedule, relative to
    the least-late step seen (the schedule's phase is not visible from outside)."""
    if not steps:
        return []
    base = steps[0]
    phase = [((s - base + tick / 2) % tick) - tick / 2 for s in steps]
    low = min(phase)
    return [p - low for p in phase]


def journaled(database: str) -> int:
    """Private events journaled so far, all users (read-only)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT COALESCE(SUM(last_seq), 0) FROM user_streams").fetchone()
        return int(row[0])
    finally:
        conn.close()


async def _create(url: str, tokens: list[str], symbols: list[str], start: int,
                  stop: int) -> dict[str, Any]:
    """Create and start strategies number start..stop-1 (round-robin users and symbols)."""
    todo: asyncio.Queue[int] = asyncio.Queue()
    for i in range(start, stop):
        todo.put_nowait(i)
    refused: list[str] = []

    async def worker(http: aiohttp.ClientSession) -> None:
        while not todo.empty():
            i = todo.get_nowait()
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
            body = {"kind": "ma_crossover", "symbol": symbols[i % len(symbols)],
                    "quantity": 1, "auto_trade": False}
            async with http.post(url + "/api/strategies", json=body, headers=headers) as r:
                created = await r.json()
            if r.status != 201:
                refused.append(f"create {r.status} {created}")
                continue
            async with http.post(f"{url}/api/strategies/{created['strategy_id']}/start",
                                 headers=headers) as r:
                if r.status != 200:
                    refused.append(f"start {r.status} {await r.text()}")

    t0 = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=WORKERS)) as http:
        await asyncio.gather(*(worker(http) for _ in range(WORKERS)))
    seconds = time.perf_counter() - t0
    return {"created": stop - start, "seconds": seconds,
            "requests_per_s": 2 * (stop - start) / seconds,
            "refused": len(refused), "refused_examples": refused[:3]}


async def run() -> dict[str, Any]:
    levels: list[dict[str, Any]] = []
    # creates up to 20,000 runs at once: faster than the per-user write limit, on purpose
    with HtsServer(NAME, max_strategies_per_user=PER_USER_CAP,
                   market_tick_seconds=MARKET_TICK_S,
                   write_rate_per_second=1_000_000, write_rate_burst=1_000_000) as server:
        note(f"creating {USERS} users with `hts-realtime user add`")
        names = [f"bench_strat{i}" for i in range(USERS)]
        await asyncio.gather(*(asyncio.to_thread(server.add_user, n, "bench-strat-pw")
                               for n in names))
        tokens = [login(server.url, n, "bench-strat-pw") for n in names]
        admin = login(server.url, "admin", "adminpass")
        _, symbol_list = http_json("GET", server.url + "/api/symbols")
        symbols = [s["symbol"] for s in symbol_list]
        monitor = Monitor(server.url, tokens[0], symbols[:PROBE_SYMBOLS])
        await monitor.start()
        try:
            # K = 0: the baseline, same measurement
            current = 0
            for k in (0, *LEVELS):
                creation: dict[str, Any] | None = None
                if k > current:
                    note(f"K={k:,}: creating and starting {k - current:,} strategies")
                    creation = await _create(server.url, tokens, symbols, current, k)
                    current = k
                    note(f"K={k:,}: {creation['seconds']:.1f} s "
                         f"({creation['requests_per_s']:.0f} HTTP requests/s), "
                         f"warming up {WARMUP_S:.0f} s")
                    await asyncio.sleep(WARMUP_S)
                else:
                    await asyncio.sleep(1.0)
                _, status = http_json("GET", server.url + "/api/ws/status", token=admin)
                ev0 = journaled(server.database)
                window = WINDOW_S if k else BASELINE_WINDOW_S
                cpu = CpuWindow(server.pid)
                monitor.begin()
                await asyncio.sleep(window)
                m = monitor.end()
                cpu_pct = cpu.percent()
                events_per_s = (journaled(server.database) - ev0) / window
                p99 = m["price_interval_s"].get("p99", float("inf"))
                level = {
                    "strategies": k,
                    "window_s": window,
                    "running_reported": status.get("running_strategies"),
                    "creation": creation,
                    "cpu_percent": cpu_pct,
                    "rss_kb": rss_kb(server.pid),
                    "journaled_events_per_s": events_per_s,
                    **m,
                    "sustained": (p99 < MAX_INTERVAL_P99_S and cpu_pct < MAX_CPU_PERCENT
                                  and m["get_price_rtt_ms"].get("p99", float("inf"))
                                  < MAX_REQUEST_P99_MS),
                }
                levels.append(level)
                note(f"K={k:,}: price interval p99 {p99:.3f} s, CPU {cpu_pct:.0f} %, "
                     f"{events_per_s:.0f} journaled events/s -> "
                     f"{'sustained' if level['sustained'] else 'NOT sustained'}")
                if not level["sustained"]:
                    break
        finally:
            await monitor.stop()
        log = server.log_report()
        described = server.describe()

    rows = []
    for lv in levels:
        pi, lag, rtt = lv["price_interval_s"], lv["tick_lag_ms"], lv["get_price_rtt_ms"]
        rows.append([
            fmt(lv["strategies"]), fmt(lv["running_reported"]),
            f"{pi.get('n', 0)}", fmt(pi.get("p50"), 3), fmt(pi.get("p99"), 3),
            fmt(pi.get("max"), 3),
            fmt(lv["cpu_percent"], 0),
            fmt(lag.get("p50"), 0), fmt(lag.get("p99"), 0), fmt(lag.get("max"), 0),
            fmt(rtt.get("p50")), fmt(rtt.get("p99")), fmt(rtt.get("max")),
            fmt(lv["journaled_events_per_s"], 0), fmt(lv["rss_kb"] / 1024, 0),
            "yes" if lv["sustained"] else "NO",
        ])
    print_table(
        f"strategies: K running ma_crossover strategies (market tick {MARKET_TICK_S} s, "
        f"price interval 1 s, {WINDOW_S:.0f} s window after {WARMUP_S:.0f} s warm-up; "
        "server core 0, client core 1)",
        ["K", "running", "n", "interval p50 s", "p99 s", "max s", "CPU %", "tick lag p50 ms",
         "p99", "max", "get_price p50 ms", "p99", "max", "events/s", "RSS MiB", "sustained"],
        rows,
    )
    sustained = max((lv["strategies"] for lv in levels if lv["sustained"] and lv["strategies"]),
                    default=0)
    tested = [lv["strategies"] for lv in levels if lv["strategies"]]
    note(f"sustained: K = {sustained:,} (largest tested K with price_update interval p99 < "
         f"{MAX_INTERVAL_P99_S} s, CPU < {MAX_CPU_PERCENT:.0f} % and get_price p99 < "
         f"{MAX_REQUEST_P99_MS:.0f} ms; tested {tested})")
    if log.problems:
        note(f"server log: {log.problems} warning/error lines, e.g. {log.examples[:2]}")
    result = {
        "server": described,
        "users": USERS,
        "levels_planned": LEVELS,
        "warmup_s": WARMUP_S,
        "window_s": WINDOW_S,
        "criteria": {"price_interval_p99_s_below": MAX_INTERVAL_P99_S,
                     "cpu_percent_below": MAX_CPU_PERCENT},
        "levels": levels,
        "sustained_strategies": sustained,
        "server_log": log.to_dict(),
    }
    write_result(NAME, result)
    return result
