"""The server against a real Node ``socket.io-client`` 4.x.

Each test runs a scenario script from ``tests/node/`` with ``node``; the
script prints what it observed as JSON and the assertions live here.
"""

from __future__ import annotations

import itertools
import json
import queue
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.support import ROOT, Server, mint

NODE_DIR = ROOT / "tests" / "node"


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not installed: these tests need Node 20+ (see package.json)")
    if not (ROOT / "node_modules" / "socket.io-client").is_dir():
        pytest.fail("node_modules is missing: run `npm ci` at the repository root")
    return path


def run_node(script: str, payload: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    proc = subprocess.run(
        [node(), str(NODE_DIR / script), json.dumps(payload)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stderr}\n{proc.stdout}"
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def has_timezone(stamp: str) -> bool:
    return datetime.fromisoformat(stamp).tzinfo is not None


# -- connect ----------------------------------------------------------------------------


def test_every_token_form_and_transport_connects(server: Server) -> None:
    token = server.login()
    out = run_node("connect.mjs", {"url": server.url, "token": token})
    assert set(out) == {"auth_websocket", "query_websocket", "header_websocket", "auth_polling",
                        "query_polling", "header_polling", "auth_polling_upgrade"}
    for name, case in out.items():
        hello = case["connected"]
        assert hello["type"] == "connected", name
        assert hello["user_id"] == "1", name
        assert hello["message"] == "Welcome testuser!", name
        assert hello["session_id"] == case["id"], name
        assert isinstance(hello["last_seq"], int), name
        assert case["ping"]["ok"] is True and case["ping"]["timestamp"] == "t1", name
        assert has_timezone(case["ping"]["server_time"]), name
    for name in ("auth_websocket", "query_websocket", "header_websocket"):
        assert out[name]["first_transport"] == "websocket"
    for name in ("auth_polling", "query_polling", "header_polling"):
        assert out[name]["first_transport"] == out[name]["transport"] == "polling"
    upgrade = out["auth_polling_upgrade"]
    assert upgrade["first_transport"] == "polling"
    assert upgrade["upgraded_to"] == upgrade["transport"] == "websocket"
    assert token not in server.log(), "a token reached the server log"


# -- refused connects -------------------------------------------------------------------


def test_refused_connects_carry_code_and_message(server: Server) -> None:
    now = int(time.time())
    expired = mint(iat=now - 7200, exp=now - 3600)
    cases: dict[str, tuple[dict[str, Any], list[str], str]] = {
        "missing": ({}, ["websocket"], "auth_required"),
        "garbage": ({"token": "not.a.jwt"}, ["websocket"], "auth_failed"),
        "wrong_secret": ({"token": mint(secret="another-secret-" + "y" * 40)}, ["websocket"],
                         "auth_failed"),
        "expired": ({"token": expired}, ["websocket"], "token_expired"),
        "missing_polling": ({}, ["polling"], "auth_required"),
        "expired_polling": ({"token": expired}, ["polling"], "token_expired"),
        "garbage_with_topics": ({"token": "x", "topics": ["price:005930"]}, ["websocket"],
                                "auth_failed"),
    }
    out = run_node("refused.mjs", {"url": server.url, "cases": {
        name: {"auth": auth, "transports": transports}
        for name, (auth, transports, _) in cases.items()
    }})
    for name, (_, _, code) in cases.items():
        seen = out[name]
        assert seen["connected"] is False, (name, seen)
        assert seen["events"] == [], (name, seen)  # nothing is emitted to a refused client
        assert seen["message"], (name, seen)
        # socket.io-client exposes the CONNECT_ERROR packet's `data` field as err.data
        data = seen["data"]
        assert isinstance(data, dict), (name, "err.data", data, "err.message", seen["message"])
        assert data["code"] == code, (name, seen)
        assert isinstance(data["message"], str) and data["message"], (name, seen)


# -- topics, prices, requests and errors -----------------------------------------------

SYMBOLS = ["005930", "000660", "035720"]


def bad_requests(foreign_order: str) -> list[tuple[str, str, list[Any], str]]:
    """(name, event, args, expected code): requests that must fail and change nothing."""
    return [
        ("unknown event", "no_such_event", [{}], "unknown_event"),
        ("malformed topic", "subscribe", [{"topic": "bogus"}], "invalid_topic"),
        ("unknown topic kind", "subscribe", [{"topic": "news:005930"}], "invalid_topic"),
        ("unknown symbol topic", "subscribe", [{"topic": "price:999999"}], "unknown_symbol"),
        ("one bad topic of two", "subscribe", [{"topics": ["price:005930", "price:999999"]}],
         "unknown_symbol"),
        ("unknown symbol price", "get_price", [{"symbol": "999999"}], "unknown_symbol"),
        ("payload not an object", "subscribe", ["price:005930"], "invalid_message"),
        ("topic not a string", "subscribe", [{"topic": 5930}], "invalid_message"),
        ("topic and topics", "subscribe", [{"topic": "price:005930", "topics": ["price:000660"]}],
         "invalid_message"),
        ("empty topics", "subscribe", [{"topics": []}], "invalid_message"),
        ("symbol not a string", "get_price", [{"symbol": 5930}], "invalid_message"),
        ("unknown field", "get_price", [{"symbol": "005930", "extra": 1}], "invalid_message"),
        ("timestamp an object", "ping", [{"timestamp": {"a": 1}}], "invalid_message"),
        ("get_account with a field", "get_account", [{"account": "x"}], "invalid_message"),
        ("two payloads", "ping", [{}, {}], "invalid_message"),
        ("someone else's order", "subscribe", [{"topic": f"order:{foreign_order}"}], "not_found"),
        ("unknown order", "subscribe", [{"topic": "order:no-such-order"}], "not_found"),
    ]


@pytest.fixture(scope="module")
def topics_run(server: Server) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    admin = server.login("admin", "adminpass")
    status, order, _ = server.http("POST", "/api/orders", {
        "symbol": "005930", "side": "buy", "quantity": 1, "order_type": "market"}, token=admin)
    assert status == 201, order
    bad = bad_requests(order["order_id"])
    out = run_node("topics.mjs", {
        "url": server.url, "token": server.login(), "symbols": SYMBOLS,
        "bad": [{"name": n, "event": e, "args": a} for n, e, a, _ in bad],
    })
    yield out, bad


def test_subscribe_acks_and_replies(topics_run: tuple[dict[str, Any], list[Any]]) -> None:
    out, _ = topics_run
    topics = [f"price:{s}" for s in SYMBOLS]
    assert out["acks"]["subscribe_one"] == {"ok": True, "topics": topics[:1]}
    assert out["acks"]["subscribe_many"] == {"ok": True, "topics": topics[1:]}
    assert [e["topic"] for e in out["subscribed"]] == topics
    for e in out["subscribed"]:
        assert e == {"type": "subscribed", "topic": e["topic"],
                     "message": f"Successfully subscribed to {e['topic']}"}
    assert out["acks"]["unsubscribe"] == {"ok": True, "topics": topics}
    assert [e["topic"] for e in out["unsubscribed"]] == topics
    assert all(e["type"] == "unsubscribed" for e in out["unsubscribed"])


def test_price_updates_about_once_a_second_per_symbol(
    topics_run: tuple[dict[str, Any], list[Any]],
) -> None:
    out, _ = topics_run
    updates = [u for u in out["price_updates"] if u["t"] <= out["unsubscribed_at"]]
    assert {u["symbol"] for u in updates} == set(SYMBOLS), "updates only for subscribed symbols"
    for symbol in SYMBOLS:
        times = [u["t"] for u in updates if u["symbol"] == symbol]
        assert 2 <= len(times) <= 5, (symbol, times)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(g >= 0.8 for g in gaps), (symbol, gaps)
    for u in updates:
        assert u["type"] == "price_update"
        data = u["data"]
        assert set(data) >= {"price", "change", "change_percent", "volume", "timestamp"}
        assert isinstance(data["price"], int) and data["price"] > 0
        assert isinstance(data["change"], int) and isinstance(data["volume"], int)
        assert has_timezone(data["timestamp"])


def test_price_updates_stop_after_unsubscribe(
    topics_run: tuple[dict[str, Any], list[Any]],
) -> None:
    out, _ = topics_run
    assert out["end"] - out["unsubscribed_at"] >= 2.4
    late = [u for u in out["price_updates"] if u["t"] > out["unsubscribed_at"]]
    # also proves the refused {"topics": ["price:005930", "price:999999"]} subscribed nothing
    assert late == []


def test_requests_ack_and_reply(topics_run: tuple[dict[str, Any], list[Any]]) -> None:
    out, _ = topics_run
    acks = out["acks"]
    price = acks["get_price"]
    assert price["ok"] is True and price["symbol"] == "005930" and price["name"]
    assert set(price["data"]) >= {"price", "open", "high", "low", "prev_close", "change",
                                  "change_percent", "volume", "timestamp"}
    assert all(isinstance(price["data"][k], int) for k in ("price", "open", "high", "low",
                                                           "prev_close", "volume"))
    assert out["price"] == [{"type": "price", "symbol": "005930", "name": price["name"],
                             "data": price["data"]}]
    account = acks["get_account"]
    assert account["ok"] is True
    assert set(account["data"]) >= {"account_id", "cash", "positions", "total_value"}
    assert isinstance(account["data"]["cash"], int)
    assert out["account"] == [{"type": "account", "data": account["data"]}]
    ping = acks["ping"]
    assert ping["ok"] is True and ping["timestamp"] == 12345 and has_timezone(ping["server_time"])
    assert out["pong"][0]["type"] == "pong" and out["pong"][0]["timestamp"] == 12345
    assert acks["ping_after_errors"]["ok"] is True, "the connection survives failed requests"
    assert out["connected"][0]["user_id"] == "1"


@pytest.mark.parametrize("index", range(len(bad_requests("x"))),
                         ids=[c[0] for c in bad_requests("x")])
def test_bad_request_acks_an_error_and_emits_error(
    topics_run: tuple[dict[str, Any], list[Any]], index: int,
) -> None:
    out, bad = topics_run
    name, _, _, code = bad[index]
    seen = out["errors"][index]
    assert seen["name"] == name
    ack = seen["ack"]
    assert ack["ok"] is False, seen
    assert set(ack["error"]) == {"code", "message"}, seen
    assert ack["error"]["code"] == code, seen
    assert isinstance(ack["error"]["message"], str) and ack["error"]["message"], seen
    assert len(seen["errors"]) == 1, seen
    error = seen["errors"][0]
    assert error["type"] == "error" and error["code"] == code, seen
    assert error["message"] == ack["error"]["message"], seen


# -- resume: no lost fill ---------------------------------------------------------------


class Steered:
    """A node scenario driven through stdin, reporting JSON lines on stdout."""

    def __init__(self, script: str, payload: dict[str, Any]) -> None:
        self.proc = subprocess.Popen(
            [node(), str(NODE_DIR / script), json.dumps(payload)], cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()

    def expect(self, phase: str | None, timeout: float = 40) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            line = "<timeout>"
        if line is None or line == "<timeout>":
            self.close()
            assert self.proc.stderr is not None
            pytest.fail(f"waiting for {phase or 'the result'}: {line or 'EOF'}; "
                        f"stderr: {self.proc.stderr.read()}")
        msg = dict(json.loads(line))
        assert msg.get("phase") == phase, msg
        return msg

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def place(server: Server, token: str, quantity: int) -> str:
    status, order, _ = server.http("POST", "/api/orders", {
        "symbol": "005930", "side": "buy", "quantity": quantity, "order_type": "market",
    }, token=token)
    assert status == 201, order
    return str(order["order_id"])


def wait_filled(server: Server, token: str, ids: list[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    for order_id in ids:
        while True:
            status, order, _ = server.http("GET", f"/api/orders/{order_id}", token=token)
            assert status == 200, order
            if order["status"] == "filled":
                break
            assert order["status"] in ("accepted", "partially_filled"), order
            assert time.monotonic() < deadline, f"order {order_id} not filled: {order}"
            time.sleep(0.1)


def active_users(server: Server) -> list[str]:
    status, body, _ = server.http("GET", "/api/ws/status", token=server.login("admin", "adminpass"))
    assert status == 200, body
    return list(body["active_users"])


def wait_until(predicate: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("mode", ["destroy", "freeze"])
def test_resume_after_a_dropped_connection_loses_no_fill(server: Server, mode: str) -> None:
    token = server.add_user(f"mobile_{mode}_{uuid.uuid4().hex[:8]}")
    client = Steered("resume.mjs", {"url": server.url, "token": token, "mode": mode})
    try:
        hello = client.expect("connected")["connected"]
        assert hello["last_seq"] == 0 and hello["topics"] == ["order:*"]

        live = [place(server, token, 5) for _ in range(2)]
        wait_filled(server, token, live)
        client.send({"cmd": "drop", "wait_filled": live})
        away = client.expect("away")
        last_seq = away["last_seq"]
        user_id = hello["user_id"]
        if mode == "destroy":  # the client saw the TCP drop; the server sees EOF, no close frame
            assert away["disconnect_reason"] == "transport close", away
            assert wait_until(lambda: user_id not in active_users(server)), "server kept it"
        else:  # a dead radio: the server still holds the old connection and sends into it
            assert away["disconnect_reason"] is None, away
            assert user_id in active_users(server)

        missed = [place(server, token, 5) for _ in range(3)]
        wait_filled(server, token, missed)
        # orders keep coming (and filling) while the client reconnects and replays
        racing: list[str] = []
        failed: list[BaseException] = []
        stop = threading.Event()

        def keep_placing() -> None:
            try:
                while (not stop.is_set() or len(racing) < 3) and len(racing) < 40:
                    racing.append(place(server, token, 5))
                    time.sleep(0.05)
            except BaseException as exc:  # re-raised in the test's thread
                failed.append(exc)

        placer = threading.Thread(target=keep_placing)
        placer.start()
        time.sleep(0.2)
        client.send({"cmd": "resume"})
        try:
            resumed = client.expect("resumed")["connected"]
            time.sleep(0.5)
        finally:
            stop.set()
            placer.join()
        assert not failed, failed
        later = [place(server, token, 5) for _ in range(2)]
        wait_filled(server, token, racing + later)
        client.send({"cmd": "finish", "wait_filled": missed + racing + later})
        out = client.expect(None)
    finally:
        client.close()

    before = [u["seq"] for u in out["before"]]
    after = [u["seq"] for u in out["after"]]
    assert before == list(range(1, last_seq + 1)), before
    assert last_seq >= 4  # accepted and filled, at least, for each live order
    # the replay is exactly last_seq+1 .. head, then live events continue without a gap
    assert after == list(range(last_seq + 1, last_seq + 1 + len(after))), after
    assert resumed["last_seq"] >= last_seq + 6  # the missed orders' events
    assert after[-1] == out["head"], (after, out["head"])
    assert out["read_while_away"] == 0
    assert "resync_required" not in out["after_events"]
    assert out["after_events"].index("connected") < out["after_events"].index("order_update")
    # every order's updates form accepted ... filled, across the drop
    updates = out["before"] + out["after"]
    for order_id in live + missed + racing + later:
        statuses = [u["status"] for u in updates if u["order_id"] == order_id]
        assert statuses[0] == "accepted" and statuses[-1] == "filled", (order_id, statuses)
        assert set(statuses[1:-1]) <= {"partially_filled"}, (order_id, statuses)
    for order_id in missed:
        assert all(u["seq"] <= resumed["last_seq"] for u in out["after"]
                   if u["order_id"] == order_id), "missed fills come from the replay"


# -- the example bot --------------------------------------------------------------------

PRICE_LINE = re.compile(r"^\[\d+\] 005930: \d{1,3}(,\d{3})*원 \([+-]\d+\.\d\d%\)$", re.M)


def bot(server: Server, *args: str) -> str:
    proc = subprocess.run(
        [node(), str(ROOT / "clients" / "js" / "bot.mjs"), "--url", server.url, *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "Warning" not in proc.stderr, proc.stderr
    return proc.stdout


def test_example_bot_prints_prices(server: Server) -> None:
    out = bot(server, "--seconds", "3")
    assert len(PRICE_LINE.findall(out)) >= 2, out


def test_example_bot_order_exits_when_filled(server: Server) -> None:
    out = bot(server, "--order", "--quantity", "2")
    placed = re.search(r"^placed order (\w+): buy 005930 x2 market$", out, re.M)
    assert placed, out
    order_id = placed.group(1)
    assert re.search(rf"^\[seq \d+\] order {re.escape(order_id)} .*: filled 2/2 @ ", out, re.M), out
    assert re.search(rf"^done: {re.escape(order_id)} .*filled 2/2", out, re.M), out
    assert not PRICE_LINE.search(out), "--order follows the order, not prices"


# -- the JS SDK (clients/js) through its public API --------------------------------------

# a blackholed link is noticed by the Engine.IO heartbeat: keep it short for the test
SHORT_HEARTBEAT = {"HTS_PING_INTERVAL_SECONDS": "1", "HTS_PING_TIMEOUT_SECONDS": "1"}


@pytest.mark.parametrize("mode", ["cut", "blackhole"])
def test_sdk_stream_resumes_by_itself_and_loses_no_fill(
    make_server: Callable[..., Server], mode: str,
) -> None:
    server = make_server(env=SHORT_HEARTBEAT).start()
    token = server.login()
    client = Steered("sdk_resume.mjs", {"url": server.url, "token": token, "mode": mode})
    try:
        hello = client.expect("connected")
        assert hello["last_seq"] == hello["connected"]["last_seq"] == 0
        live = [place(server, token, 5) for _ in range(2)]
        wait_filled(server, token, live)
        client.send({"cmd": "drop", "wait_filled": live})
        away = client.expect("away")
        assert away["state"] in ("reconnecting", "offline"), away
        # orders fill while the client has no network at all
        missed = [place(server, token, 5) for _ in range(3)]
        wait_filled(server, token, missed)
        client.send({"cmd": "resume"})
        client.expect("resumed")
        later = [place(server, token, 5) for _ in range(2)]
        wait_filled(server, token, later)
        client.send({"cmd": "finish", "wait_filled": missed + later})
        out = client.expect(None)
    finally:
        client.close()

    seqs = [u["seq"] for u in out["delivered"]]
    # every event of the stream, once, in order, across the drop
    assert seqs == list(range(1, out["head"] + 1)), seqs
    assert out["final_seq"] == out["head"]
    assert out["stats"]["duplicates"] == 0 and out["stats"]["resyncs"] == 0
    assert out["stats"]["resumes"] >= 1
    resumed = [c for c in out["connects"] if c["resumed"]]
    assert resumed and resumed[-1]["last_seq"] >= away["last_seq"] + 6
    # the missed fills came from the replay, the later ones live
    for u in out["delivered"]:
        if u["order_id"] in missed:
            assert u["replayed"] is True, u
        if u["order_id"] in later or u["order_id"] in live:
            assert u["replayed"] is False, u
    states = [s["state"] for s in out["states"]]
    assert states[0] == "connecting" and states[-1] == "closed", states
    assert "reconnecting" in states
    for order_id in live + missed + later:
        statuses = [u["status"] for u in out["delivered"] if u["order_id"] == order_id]
        assert statuses[0] == "accepted" and statuses[-1] == "filled", (order_id, statuses)


def test_sdk_stream_resyncs_then_carries_on(server: Server) -> None:
    token = server.add_user(f"resync_{uuid.uuid4().hex[:8]}")
    client = Steered("sdk_resync.mjs", {"url": server.url, "token": token})
    try:
        first = client.expect("resynced")
        order_id = place(server, token, 5)  # its events arrive while onResync is running
        wait_filled(server, token, [order_id])
        client.send({"cmd": "finish", "wait_filled": [order_id]})
        out = client.expect(None)
    finally:
        client.close()
    log = out["log"]
    whats = [e["what"] for e in log]
    assert whats[:3] == ["resync_start", "resync_end", "resync_event"], whats
    assert log[0]["last_seq"] == first["head"] == 0  # the server's head, sent with resync_required
    assert out["refetched"] in (0, 1)  # onResync refetched (the order may already be there)
    updates = [e for e in log if e["what"] == "order_update"]
    assert [u["seq"] for u in updates] == list(range(1, len(updates) + 1))
    assert updates[-1]["status"] == "filled" and out["last_seq"] == updates[-1]["seq"]
    assert out["stats"]["resyncs"] == 1 and out["stats"]["duplicates"] == 0


def test_sdk_order_pages_amend_and_trades(server: Server) -> None:
    token = server.add_user("sdk_orders")
    out = run_node("sdk_orders.mjs", {"url": server.url, "token": token, "price": 52_500})
    placed = out["placed"]
    assert out["pages"] == [placed[4:2:-1], placed[2:0:-1], placed[:1]]  # newest first, by 2
    amended = out["amended"]
    assert (amended["original_order_id"], amended["quantity"]) == (placed[0], 3)
    assert out["again_id"] == amended["order_id"]  # the retry: the same new order
    assert (out["old_status"], out["old_replaced_by"]) == ("replaced", amended["order_id"])
    assert out["open_ids"] == [amended["order_id"], *placed[4:0:-1]]
    assert out["all_plain"] == 6  # GET /api/orders as ever: every order, one array
    tape = out["tape"]
    assert tape["symbol"] == "005930" and tape["prev_close"] > 0 and len(tape["trades"]) <= 3


def test_sdk_type_declarations_compile() -> None:
    """clients/js/index.d.mts against a strict TypeScript usage sample (example.ts)."""
    tsc = ROOT / "node_modules" / ".bin" / "tsc"
    assert tsc.exists(), "node_modules is missing typescript: run `npm ci`"
    proc = subprocess.run([str(tsc), "-p", str(ROOT / "clients" / "js")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("batch", [False, True], ids=["one_per_symbol", "batched"])
def test_sdk_prices_arrive_as_price_updates_batched_or_not(server: Server, batch: bool) -> None:
    out = run_node("sdk_prices.mjs", {"url": server.url, "token": server.login(),
                                      "symbols": SYMBOLS, "batch": batch})
    assert {u["symbol"] for u in out["updates"]} == set(SYMBOLS)
    assert all(u["type"] == "price_update" and u["price"] > 0 for u in out["updates"])
    assert set(out["wire"]) == {"price_batch" if batch else "price_update"}, out["wire"]


def test_sdk_renews_tokens_without_reconnecting(make_server: Callable[..., Server]) -> None:
    srv = make_server({"HTS_ACCESS_TOKEN_TTL_SECONDS": "3",
                       "HTS_TOKEN_EXPIRY_WARNING_SECONDS": "2"}).start()
    out = run_node("sdk_renew.mjs", {"url": srv.url, "username": "testuser",
                                     "password": "testpass"})
    assert out["renewed"] and out["renewed"][-1] > out["first_exp"] + 4, out
    assert out["connects"] == 1 and out["connected"], out
    assert out["states"].count("connected") == 1, out["states"]
    assert out["accounts"] == 3 and out["order_status"] in ("accepted", "filled"), out
    assert out["token_changed"] and out["stream_expires_at"] == out["renewed"][-1]
    assert "refresh token reuse" not in srv.log()
