"""The server-side watchlist (``GET/PUT /api/watchlist``) and strategy signal history
(``GET /api/strategies/{id}/signals``), against real servers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import Server


def get(server: Server, token: str) -> list[str]:
    status, body, _ = server.http("GET", "/api/watchlist", token=token)
    assert status == 200, body
    return list(body["symbols"])


def put(server: Server, token: str, body: Any) -> tuple[int, Any]:
    status, resp, _ = server.http("PUT", "/api/watchlist", body, token=token)
    return status, resp


def fresh_user(server: Server) -> str:
    return server.add_user(f"watch_{uuid.uuid4().hex[:8]}")


def master(server: Server) -> list[str]:
    _, symbols, _ = server.http("GET", "/api/symbols")
    return [s["symbol"] for s in symbols]


def test_a_new_user_gets_the_first_eight_symbols(server: Server) -> None:
    assert get(server, fresh_user(server)) == master(server)[:8]


def test_put_replaces_the_list_in_order_per_user(server: Server) -> None:
    alice, bob = fresh_user(server), fresh_user(server)
    status, body = put(server, alice, {"symbols": ["000660", "005930"]})
    assert (status, body) == (200, {"symbols": ["000660", "005930"]})
    assert get(server, alice) == ["000660", "005930"]
    assert get(server, bob) == master(server)[:8]  # someone else's list is untouched
    assert put(server, alice, {"symbols": []}) == (200, {"symbols": []})
    assert get(server, alice) == []


def test_auth_is_required(server: Server) -> None:
    status, body, _ = server.http("GET", "/api/watchlist")
    assert status == 401 and body["error"]["code"] == "auth_required"
    status, body, _ = server.http("PUT", "/api/watchlist", {"symbols": []}, token="not-a-jwt")
    assert status == 401 and body["error"]["code"] == "auth_failed"


@pytest.mark.parametrize(("body", "code"), [
    ({"symbols": ["005930", "999999"]}, "unknown_symbol"),
    ({"symbols": ["005930", "005930"]}, "invalid_message"),
    ({"symbols": "005930"}, "invalid_message"),
    ({"symbols": [5930]}, "invalid_message"),
    ({"symbols": [""]}, "invalid_message"),
    ({}, "invalid_message"),
    ({"symbols": [], "extra": 1}, "invalid_message"),
    (["005930"], "invalid_message"),
])
def test_bad_input_is_refused_and_changes_nothing(server: Server, body: Any, code: str) -> None:
    token = fresh_user(server)
    assert put(server, token, {"symbols": ["035720"]})[0] == 200
    status, resp = put(server, token, body)
    assert status == 400 and resp["error"]["code"] == code and resp["error"]["message"], resp
    assert get(server, token) == ["035720"]


def test_at_most_max_watchlist_symbols(server: Server) -> None:
    token = fresh_user(server)
    symbols = master(server)
    assert len(symbols) > 50
    assert put(server, token, {"symbols": symbols[:50]}) == (200, {"symbols": symbols[:50]})
    status, resp = put(server, token, {"symbols": symbols[:51]})
    assert status == 400 and resp["error"]["code"] == "invalid_message"
    assert "50" in resp["error"]["message"]
    assert get(server, token) == symbols[:50]


def test_the_list_survives_a_restart_and_the_cap_is_a_setting(
    make_server: Callable[..., Server],
) -> None:
    srv = make_server(env={"HTS_MAX_WATCHLIST": "2"}).start()
    token = srv.login()
    assert get(srv, token) == master(srv)[:2]  # the default never exceeds the cap
    assert put(srv, token, {"symbols": ["000660", "035420"]})[0] == 200
    status, resp = put(srv, token, {"symbols": ["000660", "035420", "005930"]})
    assert status == 400 and resp["error"]["code"] == "invalid_message"
    srv.stop()
    srv.start()
    assert get(srv, srv.login()) == ["000660", "035420"]


# -- strategy signal history ---------------------------------------------------------------


def signals(server: Server, token: str, sid: str, query: str = "") -> tuple[int, Any]:
    status, body, _ = server.http("GET", f"/api/strategies/{sid}/signals{query}", token=token)
    return status, body


def test_signal_history_is_kept_trimmed_owned_and_forgotten(
    make_server: Callable[..., Server],
) -> None:
    srv = make_server(env={"HTS_STRATEGY_SIGNAL_HISTORY": "3"}).start()
    owner, other = srv.login(), srv.add_user("signals_other")
    status, run, _ = srv.http("POST", "/api/strategies", {
        "kind": "ma_crossover", "symbol": "005930", "quantity": 1,
        "params": {"short_window": 2, "long_window": 3}}, token=owner)
    assert status == 201, run
    sid = run["strategy_id"]
    assert signals(srv, owner, sid) == (200, {"strategy_id": sid, "signals": []})
    assert srv.http("POST", f"/api/strategies/{sid}/start", {}, token=owner)[0] == 200
    deadline = time.monotonic() + 30
    while True:  # until more signals were emitted than are kept
        _, body, _ = srv.http("GET", f"/api/strategies/{sid}", token=owner)
        if body["signals"] > 3:
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
    srv.http("POST", f"/api/strategies/{sid}/stop", {}, token=owner)
    status, body = signals(srv, owner, sid)
    assert status == 200
    kept = body["signals"]
    assert len(kept) == 3  # HTS_STRATEGY_SIGNAL_HISTORY
    seqs = [s["seq"] for s in kept]
    assert seqs == sorted(seqs, reverse=True)  # newest first
    for s in kept:
        assert s["signal"] in ("buy", "sell") and s["symbol"] == "005930"
        assert isinstance(s["price"], int) and s["reason"] and s["timestamp"]
    assert signals(srv, owner, sid, "?limit=1")[1]["signals"] == kept[:1]
    assert signals(srv, owner, sid, "?limit=500")[1]["signals"] == kept
    status, body = signals(srv, other, sid)
    assert status == 404 and body["error"]["code"] == "not_found"
    for bad in ("?limit=0", "?limit=x", "?since=1"):
        status, body = signals(srv, owner, sid, bad)
        assert status == 400 and body["error"]["code"] == "invalid_message", (bad, body)
    # kept after a restart
    srv.stop()
    srv.start()
    owner = srv.login()
    assert signals(srv, owner, sid) == (200, {"strategy_id": sid, "signals": kept})
    assert srv.http("DELETE", f"/api/strategies/{sid}", token=owner)[0] == 204
    status, body = signals(srv, owner, sid)
    assert status == 404 and body["error"]["code"] == "not_found"
