"""Record and replay: the same recording gives the same prints and the same fills,
twice — in the engine alone (a real broker on real SQLite) and through two real
servers with HTS_FEED=replay and python-socketio clients."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hts_realtime.domain.costs import Costs
from hts_realtime.domain.market import MarketSimulator
from hts_realtime.domain.market_hours import KST, MarketHours
from hts_realtime.domain.orders import OrderType, Side
from hts_realtime.domain.symbols import SymbolMaster
from hts_realtime.engine.broker import OrderRequest, PaperBroker
from hts_realtime.engine.group_commit import GroupCommit
from hts_realtime.engine.journal import EventBus, Journal
from hts_realtime.engine.market_feed import MarketFeed
from hts_realtime.engine.replay import Recorder, Recording, ReplayMarket
from hts_realtime.settings import SettingsError
from hts_realtime.storage.sqlite import SqliteStore
from tests.support import ROOT, Client, Server

SAMPLE = ROOT / "docs" / "recordings" / "sample.jsonl.gz"
NOW = datetime(2026, 1, 5, 10, 0, tzinfo=KST)
SYMBOLS = ["005930", "000660", "035420"]


def record_simulator(steps: int, seed: int = 5) -> str:
    """A recording of the simulator (the recorder is feed-agnostic), on a fake clock."""
    master = SymbolMaster()
    sim = MarketSimulator(master, seed=seed, now=NOW)
    out = io.StringIO()
    clock = [0.0]
    recorder = Recorder(sim, out, SYMBOLS, "sim", clock=lambda: clock[0])
    feed = MarketFeed(sim, 0.5, [recorder.on_quotes])
    for i in range(steps):
        clock[0] = 0.5 * i
        feed.step(NOW + timedelta(seconds=0.5 * i))
    return out.getvalue()


async def replay_fills(tmp: Path, text: str, steps: int) -> tuple[list[Any], list[Any]]:
    """Replay ``text`` against a fresh broker on a real SQLite store: orders placed before
    the tape runs; returns (every print, every fill) in order."""
    master = SymbolMaster()
    market = ReplayMarket([s.symbol for s in master], MarketHours("always"),
                          Recording.parse(io.StringIO(text)), tick=0.5)
    store = SqliteStore(str(tmp / "replay.db"))
    bus = EventBus()
    commits = GroupCommit(store, bus.publish)
    serving = asyncio.create_task(commits.serve())
    broker = PaperBroker(store, Journal(store, 10_000), commits, master, market,
                         initial_cash=1_000_000_000, max_quantity=1_000_000, participation=0.5,
                         costs=Costs.of("0.00015", {"KOSPI": "0.002", "KOSDAQ": "0.002"}))
    await broker.load()
    prints: list[Any] = []
    feed = MarketFeed(market, 0.5, [broker.on_quotes,
                                    lambda qs: prints.extend((t.symbol, t.price, t.quantity,
                                                              t.side.value, t.volume)
                                                             for q in qs for t in q.trades)])
    try:
        market.held = False
        feed.step(NOW)
        orders = []
        for symbol in SYMBOLS:
            q = market.quote(symbol)
            assert q is not None
            orders.append((await broker.place("1", OrderRequest(
                symbol, Side.BUY, OrderType.MARKET, 7)))[0])
            orders.append((await broker.place("1", OrderRequest(
                symbol, Side.BUY, OrderType.LIMIT, 30, q.price)))[0])
        for i in range(steps):
            feed.step(NOW + timedelta(seconds=0.5 * (i + 1)))
            await commits.settle()  # each step's matching commits before the next step
        fills = [(o.symbol, f["price"], f["quantity"])
                 for o in orders for f in await broker.fills("1", o.order_id)]
    finally:
        await commits.settle()
        serving.cancel()
        await store.close()
    return prints, fills


async def test_the_same_recording_gives_the_same_prints_and_fills(tmp_path: Path) -> None:
    text = record_simulator(120)
    assert text.count('"k":"trade"') > 50 and text.count('"k":"book"') > 50
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = await replay_fills(tmp_path / "a", text, 150)
    second = await replay_fills(tmp_path / "b", text, 150)
    assert first == second
    prints, fills = first
    assert len(prints) > 50 and fills, "the replay traded and the orders filled"
    recorded = [json.loads(line) for line in text.splitlines()[1:]]
    for symbol in SYMBOLS:  # each symbol's tape exactly as recorded, in order
        assert [(e["s"], e["p"], e["q"], e["side"], e["v"]) for e in recorded
                if e["k"] == "trade" and e["s"] == symbol] == \
            [p for p in prints if p[0] == symbol]


def test_speed_moves_the_tape_per_step_not_per_wall_second() -> None:
    text = record_simulator(40)
    slow = ReplayMarket(SYMBOLS, MarketHours("always"), Recording.parse(io.StringIO(text)),
                        tick=0.5, speed=1.0)
    fast = ReplayMarket(SYMBOLS, MarketHours("always"), Recording.parse(io.StringIO(text)),
                        tick=0.5, speed=4.0)
    slow.held = fast.held = False
    for _ in range(5):
        slow.step(NOW)
        fast.step(NOW)
    assert (slow.position, fast.position) == (2.5, 10.0)
    assert fast.applied > slow.applied


def test_a_bad_recording_names_its_line(tmp_path: Path) -> None:
    good = '{"format":"hts-feed-recording","version":1}\n{"t":0,"k":"status","status":"open"}\n'
    assert len(Recording.parse(io.StringIO(good)).events) == 1
    for bad, line in (('{"t":0}\n', 1), (good + '{"t":-1,"k":"trade"}\n', 3),
                      (good + "not json\n", 3), (good + '{"t":1,"k":"weird"}\n', 3)):
        with pytest.raises(SettingsError, match=f"line {line}"):
            Recording.parse(io.StringIO(bad))
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(gzip.compress(good.encode()))
    assert Recording.open(str(path)).events[0].kind == "status"
    with pytest.raises(SettingsError, match="HTS_REPLAY_FILE"):
        Recording.open(str(tmp_path / "missing.jsonl"))


def test_the_shipped_sample_is_a_valid_recording() -> None:
    rec = Recording.open(str(SAMPLE))
    assert rec.header["source"] == "kis" and rec.duration > 50
    kinds = {e.kind for e in rec.events}
    assert kinds == {"quote", "trade", "book", "status"}


async def replay_server(tmp: Path, name: str) -> Server:
    srv = Server(tmp / name, {"HTS_FEED": "replay", "HTS_REPLAY_FILE": str(SAMPLE),
                              "HTS_REPLAY_SPEED": "8", "HTS_MARKET_TICK_SECONDS": "0.25",
                              "HTS_REPLAY_START_DELAY_SECONDS": "4"})
    await asyncio.to_thread(srv.start)
    return srv


async def run_replay(srv: Server) -> tuple[list[Any], list[Any]]:
    """Subscribe and place orders while the tape is held; collect prints and fills."""
    token = await asyncio.to_thread(srv.login)
    c = await Client().connect(srv.url, auth={"token": token, "topics": [
        "trade:005930", "trade:000660", "order:*"]})
    orders = []
    try:
        for symbol, price in (("005930", 74_900), ("000660", 177_900)):
            for body in ({"symbol": symbol, "side": "buy", "order_type": "market",
                          "quantity": 5},
                         {"symbol": symbol, "side": "buy", "order_type": "limit",
                          "quantity": 40, "price": price}):
                status, order, _ = await asyncio.to_thread(srv.http, "POST", "/api/orders",
                                                           body, token)
                assert status == 201, order
                orders.append(order["order_id"])
        # 60 s of recording at 8x: about 8 s once released
        admin = await asyncio.to_thread(srv.login, "admin", "adminpass")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while True:
            _, status_body, _ = await asyncio.to_thread(srv.http, "GET", "/api/ws/status",
                                                        None, admin)
            if status_body["feed"]["finished"]:
                break
            assert loop.time() < deadline, status_body["feed"]
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)  # the last step's trade_update
        prints = [(e["symbol"], t["price"], t["quantity"], t["side"], t["volume"])
                  for e in c.events["trade_update"] for t in e["data"]["trades"]]
        fills = []
        for oid in orders:
            _, got, _ = await asyncio.to_thread(srv.http, "GET", f"/api/orders/{oid}/fills",
                                                None, token)
            fills.append([(f["price"], f["quantity"]) for f in got])
        return prints, fills
    finally:
        await c.disconnect()


async def test_two_servers_replaying_one_file_agree(tmp_path: Path) -> None:
    a, b = await asyncio.gather(replay_server(tmp_path, "a"), replay_server(tmp_path, "b"))
    try:
        first, second = await asyncio.gather(run_replay(a), run_replay(b))
    finally:
        await asyncio.gather(asyncio.to_thread(a.stop), asyncio.to_thread(b.stop))
    assert first == second
    prints, fills = first
    events = Recording.open(str(SAMPLE)).events
    for symbol in ("005930", "000660"):
        assert [p for p in prints if p[0] == symbol] == [
            (e.data["s"], e.data["p"], e.data["q"], e.data["side"], e.data["v"])
            for e in events if e.kind == "trade" and e.data["s"] == symbol]
    assert all(fills), f"every order filled from the replayed book and prints: {fills}"


def test_feed_record_cli_writes_a_recording_replay_accepts(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    out = tmp_path / "sim.jsonl.gz"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HTS_")}
    env.update({"HTS_MARKET_TICK_SECONDS": "0.1", "HTS_MARKET_SEED": "3"})
    proc = subprocess.run([sys.executable, "-m", "hts_realtime", "feed", "record", "--out",
                           str(out), "--seconds", "1.5", "--symbols", "005930,000660"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "recorded" in proc.stdout
    rec = Recording.open(str(out))
    assert rec.header["source"] == "sim" and rec.header["symbols"] == ["005930", "000660"]
    assert {e.data["s"] for e in rec.events if e.kind == "trade"} <= {"005930", "000660"}
    assert sum(e.kind == "trade" for e in rec.events) > 5
    bad = subprocess.run([sys.executable, "-m", "hts_realtime", "feed", "record", "--out",
                          str(out), "--symbols", "999999"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "999999" in bad.stderr
