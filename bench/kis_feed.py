"""The KIS feed: frames a second the adapter parses, applies and the server fans out.

Two measurements, beside the simulator:

* **In process, one core** (the orchestrator's): the cost of a KIS frame through
  the adapter alone — ``codec.decode`` (split, count check), then the typed
  records applied to the market (``KisTape.apply``) and a market step — for
  체결 frames of 4 records and 호가 frames of 1, against the cost of one
  simulator step of the 60 symbols (``MarketSimulator.step``).
* **End to end**: a server with ``HTS_FEED=kis`` on the server core, the fake KIS
  server (``tests/fakes/kis.py``) in this process on the load core sending
  체결 frames of 4 records for 20 symbols at a set rate, and python-socketio
  clients subscribed to ``trade:`` and ``price:`` of all 20. Reported: frames
  offered and received by the server, prints delivered per client, and the
  server's CPU per frame; beside it the same server and clients on the
  simulator (60 symbols, ``HTS_MARKET_TICK_SECONDS`` 0.1).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

from bench.common import CpuWindow, HtsServer, note, print_table, write_result
from hts_realtime.adapters.kis import codec
from hts_realtime.adapters.kis.codec import TR_BOOK, TR_TRADE
from hts_realtime.adapters.kis.source import KisTape
from hts_realtime.domain.external_market import ExternalMarket
from hts_realtime.domain.market import MarketSimulator
from hts_realtime.domain.market_hours import KST, MarketHours
from hts_realtime.domain.symbols import SymbolMaster
from tests.fakes.kis import APPKEY, APPSECRET, FakeKis
from tests.support import Client

MASTER = SymbolMaster()
SYMBOLS = [s.symbol for s in MASTER][:20]
RECORDS = 4  # prints per 체결 frame
WINDOW = 8.0  # seconds measured per rate
RATES = (250, 1000, 2500)  # 체결 frames a second offered
CLIENTS = 10


def frames(fake: FakeKis, n: int) -> list[str]:
    """``n`` 체결 frames of ``RECORDS`` prints each, round-robin over the symbols, plus a
    호가 frame for every fourth (what a busy symbol list looks like)."""
    out = []
    for i in range(n):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        st = fake.symbols[symbol]
        out.append(codec.data_frame(TR_TRADE, [
            fake.trade_record(symbol, st.prev_close + 100 * ((i + k) % 3), 1 + k, "1")
            for k in range(RECORDS)]))
        if i % 4 == 0:
            out.append(codec.data_frame(TR_BOOK, [fake.book_record(symbol)]))
    return out


def in_process() -> dict[str, Any]:
    fake = FakeKis({s.symbol: s.prev_close for s in MASTER})
    raw = frames(fake, 20_000)
    t0 = time.process_time()
    records = 0
    for r in raw:
        frame = codec.decode(r)
        assert isinstance(frame, codec.DataFrame)
        records += len(frame.records)
    decode_s = time.process_time() - t0
    market = ExternalMarket([s.symbol for s in MASTER], MarketHours("always"))
    tape = KisTape(market)
    now = datetime.now(KST)
    t0 = time.process_time()
    for i, r in enumerate(raw):
        frame = codec.decode(r)
        assert isinstance(frame, codec.DataFrame)
        tape.apply(frame, now)
        if i % 50 == 49:  # a market step every 50 frames (~ 0.1 s at 500 frames/s)
            market.step(now)
    apply_s = time.process_time() - t0
    sim = MarketSimulator(MASTER, seed=7, now=now)
    steps = 2_000
    t0 = time.process_time()
    for _ in range(steps):
        sim.step(now)
    sim_s = time.process_time() - t0
    n = len(raw)
    return {
        "frames": n, "records": records,
        "decode_us_per_frame": 1e6 * decode_s / n,
        "decode_apply_us_per_frame": 1e6 * apply_s / n,
        "frames_per_second_one_core": n / apply_s,
        "sim_us_per_step_60_symbols": 1e6 * sim_s / steps,
    }


async def end_to_end(fake: FakeKis, rate: int) -> dict[str, Any]:
    from bench.common import login
    raw = [r for r in frames(fake, 400) if r.startswith("0|H0STCNT0")]
    with HtsServer("kis_feed", feed="kis", kis_app_key=APPKEY, kis_app_secret=APPSECRET,
                   kis_rest_url=fake.url, kis_ws_url=fake.ws_url, kis_rest_per_second=10,
                   kis_subscribe_per_second=200, kis_vi_feed="false",
                   market_tick_seconds=0.1) as srv:
        clients = await connect(srv)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while len(fake.registrations()) < len(SYMBOLS):
                assert loop.time() < deadline, "registrations"
                await asyncio.sleep(0.1)
            admin = login(srv.url, "admin", "adminpass")
            before = feed_status(srv.url, admin)
            cpu = CpuWindow(srv.pid)
            cpu_started = loop.time()
            for c in clients:
                c.events.clear()
            sent = await offer(fake, raw, rate, WINDOW)
            for _ in range(100):  # until the server has read what was sent (10 s at most)
                after = feed_status(srv.url, admin)
                if after["frames"] - before["frames"] >= sent:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # the last step's trades
            cpu_seconds = cpu.percent() / 100 * (loop.time() - cpu_started)
            cpu_pct = 100 * cpu_seconds / WINDOW
            prints = [sum(len(e["data"]["trades"]) for e in c.events["trade_update"])
                      for c in clients]
        finally:
            for c in clients:
                await c.disconnect()
    return {"rate": rate, "frames_sent": sent, "prints_offered": sent * RECORDS,
            "frames_received": after["frames"] - before["frames"],
            "prints_dropped_in_market": after["prints_dropped"] - before["prints_dropped"],
            "prints_per_client_min": min(prints), "prints_per_client_max": max(prints),
            "server_cpu_pct": cpu_pct,
            "server_cpu_us_per_frame": 1e6 * cpu_seconds / max(sent, 1)}


def feed_status(url: str, token: str) -> dict[str, Any]:
    from bench.common import http_json
    status, body = http_json("GET", url + "/api/ws/status", token=token)
    assert status == 200, body
    feed: dict[str, Any] = body["feed"]
    return feed


async def connect(srv: HtsServer) -> list[Client]:
    from bench.common import login
    token = login(srv.url, "testuser", "testpass")
    topics = [f"{k}:{s}" for s in SYMBOLS for k in ("price", "trade")]
    return [await Client().connect(srv.url, auth={"token": token, "topics": topics})
            for _ in range(CLIENTS)]


async def offer(fake: FakeKis, raw: list[str], rate: int, seconds: float) -> int:
    """Send ``rate`` frames a second for ``seconds`` to the server's session."""
    session = next(s for s in fake.sessions if s.appkey)
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    while loop.time() - start < seconds:
        due = int((loop.time() - start) * rate)
        while sent < due:
            await session.ws.send_str(raw[sent % len(raw)])
            sent += 1
        await asyncio.sleep(0.005)
    return sent


async def sim_beside() -> dict[str, Any]:
    with HtsServer("kis_feed_sim", market_tick_seconds=0.1) as srv:
        clients = await connect(srv)
        try:
            await asyncio.sleep(1.0)
            cpu = CpuWindow(srv.pid)
            for c in clients:
                c.events.clear()
            await asyncio.sleep(WINDOW)
            cpu_pct = cpu.percent()
            prints = [sum(len(e["data"]["trades"]) for e in c.events["trade_update"])
                      for c in clients]
        finally:
            for c in clients:
                await c.disconnect()
    return {"server_cpu_pct": cpu_pct, "prints_per_client_min": min(prints),
            "prints_per_client_max": max(prints)}


async def run() -> dict[str, Any]:
    local = in_process()
    print_table("KIS frames through the adapter, in process, one core", ["what", "value"], [
        ["decode (split, count check) µs/frame", f"{local['decode_us_per_frame']:.1f}"],
        ["decode + apply + step µs/frame", f"{local['decode_apply_us_per_frame']:.1f}"],
        ["frames/s on one core (4-print 체결 + 호가)",
         f"{local['frames_per_second_one_core']:,.0f}"],
        ["simulator step, 60 symbols, µs", f"{local['sim_us_per_step_60_symbols']:.0f}"],
    ])
    fake = await FakeKis({s.symbol: s.prev_close for s in MASTER}).start()
    rows, results = [], []
    try:
        for rate in RATES:
            r = await end_to_end(fake, rate)
            results.append(r)
            rows.append([f"kis, {rate} frames/s ({rate * RECORDS:,} prints/s)",
                         f"{r['frames_sent'] / WINDOW:,.0f}",
                         f"{r['frames_received']:,} / {r['frames_sent']:,}",
                         f"{r['prints_per_client_min']:,} / {r['prints_offered']:,}",
                         f"{r['server_cpu_pct']:.0f} %",
                         f"{r['server_cpu_us_per_frame']:.0f}"])
        sim = await sim_beside()
        rows.append(["simulator, 60 symbols, 0.1 s tick", "", "",
                     f"{sim['prints_per_client_min']:,}",
                     f"{sim['server_cpu_pct']:.0f} %", ""])
    finally:
        await fake.stop()
    print_table(f"end to end: {CLIENTS} python-socketio clients on price+trade of 20 symbols, "
                f"{WINDOW:.0f} s", ["feed", "frames/s sent", "received by the server",
                                    "prints per client (min) / offered",
                                    "server CPU (of the window)", "CPU µs/frame"], rows)
    note("server CPU includes fanning the trades and prices out to the clients")
    data = {"in_process": local, "end_to_end": results, "simulator": sim}
    write_result("kis_feed", data)
    return data
