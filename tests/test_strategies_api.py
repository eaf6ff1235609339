"""Strategies over HTTP and Socket.IO, against a real server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import Client, Server

FAST = {"kind": "breakout", "symbol": "005930", "params": {"window": 2}, "quantity": 3}


def create(server: Server, token: str, expect: int = 201, **body: Any) -> dict[str, Any]:
    status, resp, _ = server.http("POST", "/api/strategies", {**FAST, **body}, token=token)
    assert status == expect, resp
    return dict(resp)


def action(server: Server, token: str, sid: str, verb: str) -> tuple[int, Any]:
    status, body, _ = server.http("POST", f"/api/strategies/{sid}/{verb}", {}, token=token)
    return status, body


@pytest.mark.parametrize(("body", "code"), [
    ({"kind": "astrology"}, "invalid_strategy"),
    ({"params": {"window": 1}}, "invalid_strategy"),
    ({"params": {"windw": 5}}, "invalid_strategy"),
    ({"symbol": "999999"}, "unknown_symbol"),
    ({"quantity": 0}, "invalid_strategy"),
    ({"quantity": "3"}, "invalid_message"),
    ({"auto_trade": "yes"}, "invalid_message"),
    ({"params": [1, 2]}, "invalid_message"),
])
def test_create_validation(server: Server, token: str, body: dict[str, Any], code: str) -> None:
    resp = create(server, token, expect=400, **body)
    assert resp["error"]["code"] == code and resp["error"]["message"]


def test_lifecycle_and_ownership(server: Server) -> None:
    owner, other = server.add_user("strat_owner"), server.add_user("strat_other")
    run = create(server, owner, kind="ma_crossover", params={"short_window": 3,
                                                             "long_window": 8})
    sid = run["strategy_id"]
    assert run["state"] == "created" and run["params"] == {"short_window": 3, "long_window": 8}
    assert run["auto_trade"] is False
    _, kinds, _ = server.http("GET", "/api/strategy-kinds")
    assert set(kinds) >= {"ma_crossover", "rsi", "breakout"}
    for verb in ("start", "stop"):
        status, body = action(server, other, sid, verb)
        assert status == 404 and body["error"]["code"] == "not_found"
    status, body, _ = server.http("GET", f"/api/strategies/{sid}", token=other)
    assert status == 404
    status, body, _ = server.http("DELETE", f"/api/strategies/{sid}", token=other)
    assert status == 404
    _, listed, _ = server.http("GET", "/api/strategies", token=other)
    assert listed == []

    status, body = action(server, owner, sid, "start")
    assert status == 200 and body["state"] == "running"
    status, body = action(server, owner, sid, "stop")
    assert status == 200 and body["state"] == "stopped"
    _, listed, _ = server.http("GET", "/api/strategies", token=owner)
    assert [r["strategy_id"] for r in listed] == [sid]
    status, _, _ = server.http("DELETE", f"/api/strategies/{sid}", token=owner)
    assert status == 204
    status, body, _ = server.http("GET", f"/api/strategies/{sid}", token=owner)
    assert status == 404 and body["error"]["code"] == "not_found"


async def _wait(cond: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_auto_trade_streams_signals_status_and_fills_to_the_owner_only(
        server: Server) -> None:
    owner, other = server.add_user("auto_owner"), server.add_user("auto_other")
    run = create(server, owner, auto_trade=True)
    sid = run["strategy_id"]
    mine = Client()
    await mine.connect(server.url, auth={"token": owner,
                                         "topics": [f"strategy:{sid}", "order:*"]})
    snoop = Client()
    await snoop.connect(server.url, auth={"token": other, "topics": ["order:*"]})
    ack = await snoop.call("subscribe", {"topic": f"strategy:{sid}"})
    assert ack["ok"] is False and ack["error"]["code"] == "not_found"

    assert action(server, owner, sid, "start")[0] == 200
    await mine.wait_for("strategy_signal", timeout=30)
    await _wait(lambda: any(u["data"]["status"] == "filled" and u["data"]["strategy_id"] == sid
                            for u in mine.events["order_update"]), what="a strategy fill")
    signal = mine.events["strategy_signal"][0]
    assert signal["type"] == "strategy_signal" and signal["strategy_id"] == sid
    assert signal["data"]["signal"] in {"buy", "sell"} and signal["data"]["symbol"] == "005930"
    assert isinstance(signal["data"]["price"], int) and signal["data"]["reason"]
    statuses = [s["data"] for s in mine.events["strategy_status"]]
    assert statuses[0]["state"] == "running"
    await _wait(lambda: any(s["data"]["position"] > 0 for s in mine.events["strategy_status"]),
                what="a status with the new position")
    _, orders, _ = server.http("GET", "/api/orders", token=owner)
    assert orders and all(o["strategy_id"] == sid for o in orders)
    _, current, _ = server.http("GET", f"/api/strategies/{sid}", token=owner)
    assert current["signals"] >= 1
    # one private stream: every event of the owner has a distinct, rising seq
    all_seqs = [p["seq"] for _, p in mine.order if isinstance(p, dict) and "seq" in p]
    assert all_seqs == sorted(all_seqs) and len(set(all_seqs)) == len(all_seqs)
    await asyncio.sleep(0.5)
    assert snoop.events["strategy_signal"] == snoop.events["strategy_status"] == []
    assert snoop.events["order_update"] == []

    # resume: a new connection from seq 0 with the strategy topic replays exactly the
    # strategy events the live connection saw (filtered to its topics, in order)
    action(server, owner, sid, "stop")
    await asyncio.sleep(0.5)
    live = [(e, p["seq"]) for e, p in mine.order if e.startswith("strategy_")]
    replay = Client()
    await replay.connect(server.url, auth={"token": owner, "topics": [f"strategy:{sid}"],
                                           "last_seq": 0})
    await _wait(lambda: len([e for e, _ in replay.order if e.startswith("strategy_")])
                >= len(live), what="the replay")
    replayed = [(e, p["seq"]) for e, p in replay.order if e.startswith("strategy_")]
    # seq 1 is the "created" status, journaled before the live client connected
    assert replayed[0] == ("strategy_status", 1)
    assert replay.events["strategy_status"][0]["data"]["state"] == "created"
    assert [r for r in replayed if r[1] >= live[0][1]][: len(live)] == live
    assert not replay.events["order_update"]
    for c in (mine, snoop, replay):
        await c.disconnect()


async def test_running_strategies_resume_after_a_restart(
        make_server: Callable[..., Server]) -> None:
    srv = make_server().start()
    tok = srv.add_user("restart_strat")
    sid = create(srv, tok)["strategy_id"]
    idle = create(srv, tok)["strategy_id"]
    action(srv, tok, sid, "start")
    srv.kill()
    srv.start()
    tok = srv.login("restart_strat", "password1")
    _, run, _ = srv.http("GET", f"/api/strategies/{sid}", token=tok)
    assert run["state"] == "running"
    _, other, _ = srv.http("GET", f"/api/strategies/{idle}", token=tok)
    assert other["state"] == "created"
    admin = srv.login("admin", "adminpass")
    _, status, _ = srv.http("GET", "/api/ws/status", token=admin)
    assert status["running_strategies"] == 1
    c = Client()
    await c.connect(srv.url, auth={"token": tok, "topics": [f"strategy:{sid}"]})
    await c.wait_for("strategy_signal", timeout=30)
    await c.disconnect()
