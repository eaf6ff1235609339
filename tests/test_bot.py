"""The example bot (``clients/bot.py``) run as a user would, against real servers."""

from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import ROOT, Client, Server, free_port

BOT = [sys.executable, "-m", "clients.bot"]
PRICE_LINE = re.compile(r"^\[(\d+)\] 005930: ([\d,]+)원 \(([+-]\d+\.\d{2})%\)$")
ORDER_LINE = re.compile(
    r"^(?P<replayed>replayed )?\[seq (?P<seq>\d+)\] (?P<id>ORD\w+) (?P<side>buy|sell) "
    r"(?P<qty>\d+) (?P<symbol>\d{6}): (?P<status>\w+) (?P<filled>\d+)/(?P=qty)"
    r"(?: @ (?P<price>[\d,]+)원)?$"
)
JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")
SECTIONS = ["=== Login ===", "=== Socket.IO Connection ===", "=== Subscribe to Price ===",
            "=== Get Current Price ===", "=== Real-time Price Updates", "=== Server Status ==="]
KRX_TICKS = ((2_000, 1), (5_000, 5), (20_000, 10), (50_000, 50), (200_000, 100), (500_000, 500))


def on_krx_grid(price: int) -> bool:
    tick = next((t for bound, t in KRX_TICKS if price < bound), 1_000)
    return price > 0 and price % tick == 0


def bot_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}


def run_bot(*args: str, cmd: list[str] = BOT,
            timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, *args], cwd=ROOT, env=bot_env(), capture_output=True,
                          text=True, encoding="utf-8", timeout=timeout)


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


class BotProcess:
    """The bot in the background, its stdout collected line by line as it prints."""

    def __init__(self, *args: str, stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "w")  # noqa: SIM115 - closed in finish()
        self.proc = subprocess.Popen([*BOT, *args], cwd=ROOT, env=bot_env(),
                                     stdout=subprocess.PIPE, stderr=self._stderr,
                                     text=True, encoding="utf-8")
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], count: int = 1, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while sum(1 for line in list(self.lines) if pattern.match(line)) < count:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"no {count} lines like {pattern.pattern!r}:\n"
                                     f"{self.output()}\n{self.stderr_path.read_text()}")
            time.sleep(0.05)

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the bot did not finish:\n{self.output()}") from None
        finally:
            self._reader.join(5)
            self._stderr.close()
        return rc, self.output(), self.stderr_path.read_text()


def price_lines(lines: list[str]) -> list[tuple[int, int, str]]:
    found = []
    for line in lines:
        m = PRICE_LINE.match(line)
        if m:
            found.append((int(m[1]), int(m[2].replace(",", "")), m[3]))
    return found


def order_lines(lines: list[str]) -> list[re.Match[str]]:
    return [m for m in map(ORDER_LINE.match, lines) if m]


def index_of(lines: list[str], prefix: str) -> int:
    hits = [i for i, line in enumerate(lines) if line.startswith(prefix)]
    assert hits, f"no line starting with {prefix!r}:\n" + "\n".join(lines)
    return hits[0]


def value_after(lines: list[str], prefix: str) -> str:
    return lines[index_of(lines, prefix)][len(prefix):]


def won(text: str) -> int:
    m = re.match(r"([\d,]+)원", text)
    assert m, text
    return int(m[1].replace(",", ""))


def assert_status_block(lines: list[str]) -> None:
    status = lines[index_of(lines, "=== Server Status ==="):]
    assert int(value_after(status, "Active Connections: ")) >= 1
    assert value_after(status, "Active Users: ") == "['1']"
    assert value_after(status, "Price Streamer: ") == "Running"
    subscriptions = ast.literal_eval(value_after(status, "Subscriptions: "))
    assert subscriptions.get("price:005930") == ["1"]


# -- prices mode ----------------------------------------------------------------------------
def test_prices_mode_reproduces_the_seed_walkthrough(server: Server) -> None:
    proc = run_bot("--url", server.url, "--seconds", "3")
    assert proc.returncode == 0, explain(proc)
    lines = proc.stdout.splitlines()

    positions = [index_of(lines, s) for s in SECTIONS]
    assert positions == sorted(positions), explain(proc)
    assert "=== Real-time Price Updates (3 seconds) ===" in lines

    token_line = value_after(lines, "Access Token: ")
    assert token_line.startswith("eyJ") and token_line.endswith("...")
    assert len(token_line) == 36 + 3
    assert value_after(lines, 'Received: {"type":"connected"').count('"user_id":"1"') == 1
    assert any(line.startswith('Received: {"type":"subscribed","topic":"price:005930"')
               for line in lines), explain(proc)
    assert any(line.startswith('Received: {"type":"price","symbol":"005930"')
               for line in lines), explain(proc)

    prices = price_lines(lines)
    assert len(prices) >= 2, explain(proc)
    assert [n for n, _, _ in prices] == list(range(1, len(prices) + 1))
    assert all(on_krx_grid(p) for _, p, _ in prices), prices
    updates = lines[index_of(lines, "=== Real-time Price Updates"):index_of(
        lines, "=== Server Status ===")]
    assert len(price_lines(updates)) == len(prices)  # all of them inside their section

    assert_status_block(lines)
    everything = proc.stdout + proc.stderr
    assert not JWT.search(everything), "a whole token was printed"
    assert "testpass" not in everything and "adminpass" not in everything


def test_status_without_an_admin_login_is_skipped_not_fatal(server: Server) -> None:
    proc = run_bot("--url", server.url, "--seconds", "1", "--admin-password", "wrong-one")
    assert proc.returncode == 0, explain(proc)
    status = proc.stdout.split("=== Server Status ===", 1)[1]
    assert "needs an admin" in status
    assert "Active Users" not in status
    assert "wrong-one" not in proc.stdout + proc.stderr


# -- order mode -----------------------------------------------------------------------------
def test_order_mode_follows_the_order_until_filled(server: Server) -> None:
    token = server.add_user("botuser1")
    proc = run_bot("--url", server.url, "--order", "--quantity", "10", "--timeout", "20",
                   "--username", "botuser1", "--password", "password1")
    assert proc.returncode == 0, explain(proc)
    lines = proc.stdout.splitlines()

    updates = order_lines(lines)
    assert updates, explain(proc)
    order_id = updates[0]["id"]
    assert {m["id"] for m in updates} == {order_id}
    assert value_after(lines, "Placed ").startswith(f"{order_id}: buy 10 005930 market")
    seqs = [int(m["seq"]) for m in updates]
    assert seqs == sorted(set(seqs)), "seqs must increase, each once"
    assert updates[0]["status"] == "accepted"
    last = updates[-1]
    assert (last["status"], last["filled"], last["qty"]) == ("filled", "10", "10")
    assert last["price"], "a filled order shows its average fill price"
    assert all(m["status"] in {"accepted", "partially_filled"} for m in updates[:-1])

    # the output ends with the account, after the final update
    account_at = index_of(lines, "=== Account ===")
    assert lines.index(last.string) < account_at
    account = lines[account_at:]
    cash_line = value_after(account, "Cash: ")
    cash = won(cash_line)
    was = won(cash_line.split("(was ", 1)[1])
    assert cash < was, cash_line
    assert any(line.strip().startswith("005930") and "10 shares" in line for line in account)
    assert any(line.startswith("Total Value: ") for line in account)

    # and the server agrees
    status, order, _ = server.http("GET", f"/api/orders/{order_id}", token=token)
    assert status == 200 and order["status"] == "filled" and order["filled_quantity"] == 10
    status, acc, _ = server.http("GET", "/api/account", token=token)
    assert status == 200 and acc["cash"] == cash
    assert "password1" not in proc.stdout + proc.stderr


# -- reconnection ---------------------------------------------------------------------------
@pytest.mark.parametrize("stop", ["stop", "kill"])
def test_bot_reconnects_by_itself_when_the_server_restarts(
    make_server: Callable[..., Server], tmp_path: Path, stop: str,
) -> None:
    """``stop``: SIGTERM, the server closes every connection (an Engine.IO close).
    ``kill``: SIGKILL, the connection just breaks (a transport error)."""
    srv = make_server().start()
    port = srv.port
    bot = BotProcess("--url", srv.url, "--seconds", "12", stderr_path=tmp_path / "bot.err")
    try:
        bot.wait_for(PRICE_LINE, count=2)
        getattr(srv, stop)()
        srv.start()  # the same port: the bot dials the same URL
        assert srv.port == port
    finally:
        rc, out, err = bot.finish()
    lines = out.splitlines()
    assert rc == 0, f"{out}\n{err}"

    gone = index_of(lines, "*** disconnected, reconnecting...")
    back = index_of(lines, "*** reconnected")
    assert gone < back
    assert "price:005930" in lines[back]
    before, after = price_lines(lines[:gone]), price_lines(lines[back:])
    assert before and after, out
    numbers = [n for n, _, _ in price_lines(lines)]
    assert numbers == list(range(1, len(numbers) + 1))
    # the restarted server knows the subscription only from the reconnect's auth.topics
    assert_status_block(lines)


def test_bot_refreshes_its_token_when_it_expired_while_away(
    make_server: Callable[..., Server], tmp_path: Path,
) -> None:
    srv = make_server({"HTS_ACCESS_TOKEN_TTL_SECONDS": "1",
                       "HTS_JWT_LEEWAY_SECONDS": "0"}).start()
    bot = BotProcess("--url", srv.url, "--seconds", "20", stderr_path=tmp_path / "bot.err")
    try:
        bot.wait_for(PRICE_LINE, count=2)  # by now the 1-second token has expired
        srv.stop()
        srv.start()
    finally:
        rc, out, err = bot.finish()
    lines = out.splitlines()
    assert rc == 0, f"{out}\n{err}"
    refused = index_of(lines, "*** reconnect refused: token_expired")
    # (a 1-second token is renewed in place while up; under load a renew may miss its
    # second and the connection closes token_expired: that reconnects too)
    relogin = refused + index_of(lines[refused:], "*** refreshing the access token")
    back = relogin + index_of(lines[relogin:], "*** reconnected")
    assert refused < relogin < back
    assert price_lines(lines[back:]), out
    assert not JWT.search(out + err)


# -- resume ---------------------------------------------------------------------------------
async def test_resume_demo_replays_exactly_the_missed_events(
    server: Server, clients: Callable[[], Client],
) -> None:
    token = server.add_user("botuser2")
    proc = run_bot("--url", server.url, "--resume-demo", "--quantity", "5", "--timeout", "20",
                   "--username", "botuser2", "--password", "password1")
    assert proc.returncode == 0, explain(proc)
    lines = proc.stdout.splitlines()

    dropped = index_of(lines, "*** connection dropped abruptly")
    back = index_of(lines, "*** reconnected")
    last_seen = int(re.findall(r"last_seq=(\d+)", lines[dropped])[0])
    resuming = index_of(lines, "*** resuming after seq ")
    assert back < resuming
    assert lines[resuming].startswith(f"*** resuming after seq {last_seen}; server at seq ")
    head = int(lines[resuming].rsplit(" ", 1)[1])

    updates = order_lines(lines)
    before = [int(m["seq"]) for m in order_lines(lines[:dropped])]
    replayed = [int(m["seq"]) for m in updates if m["replayed"]]
    after = [int(m["seq"]) for m in order_lines(lines[back:]) if not m["replayed"]]
    assert before and max(before) == last_seen
    assert replayed == list(range(last_seen + 1, head + 1)), explain(proc)
    assert len(replayed) >= 2  # order 2's accepted ... filled
    assert after and min(after) == head + 1
    # every replayed line comes between the reconnect and the live ones
    first_live_after = min(i for i, line in enumerate(lines)
                           if i > back and (m := ORDER_LINE.match(line)) and not m["replayed"])
    assert all(back < lines.index(m.string) < first_live_after
               for m in updates if m["replayed"])
    seen = before + replayed + after
    assert seen == list(range(1, len(seen) + 1)), "a fresh user's stream: 1..n, once each"

    away = next(line.split()[1].rstrip(":") for line in lines
                if line.startswith("Placed ") and "while disconnected" in line)
    assert {m["id"] for m in updates if m["id"] == away and m["replayed"]} == {away}
    assert not [m for m in updates if m["id"] == away and not m["replayed"]]
    assert f"Resumed after seq {last_seen}: replayed {len(replayed)} missed events" in proc.stdout

    # the journal, read independently, has exactly these events at these seqs
    journal = await clients().connect(
        server.url, auth={"token": token, "topics": ["order:*"], "last_seq": 0})
    events = await journal.wait_for("order_update", count=len(seen))
    assert [e["seq"] for e in events] == seen
    printed = {int(m["seq"]): (m["id"], m["status"]) for m in updates}
    assert {e["seq"]: (e["data"]["order_id"], e["data"]["status"]) for e in events} == printed


# -- failures and shutdown ------------------------------------------------------------------
def test_unreachable_server_is_a_one_line_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    proc = run_bot("--url", url, cmd=[sys.executable, "clients/bot.py"])  # script form
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert proc.stderr.startswith("error: cannot reach the server at " + url)
    assert "Traceback" not in proc.stdout + proc.stderr


def test_failed_login_is_a_one_line_error_without_the_password(server: Server) -> None:
    proc = run_bot("--url", server.url, "--password", "not-the-password")
    assert proc.returncode != 0
    assert proc.stderr.strip() == ("error: login failed for 'testuser': "
                                   "auth_failed: wrong username or password"), proc.stderr
    assert "not-the-password" not in proc.stdout + proc.stderr
    assert "=== Socket.IO Connection ===" not in proc.stdout


def test_ctrl_c_disconnects_cleanly(make_server: Callable[..., Server], tmp_path: Path) -> None:
    srv = make_server().start()
    bot = BotProcess("--url", srv.url, "--seconds", "60", stderr_path=tmp_path / "bot.err")
    try:
        bot.wait_for(PRICE_LINE)
        bot.proc.send_signal(signal.SIGINT)
    finally:
        rc, out, err = bot.finish(timeout=15)
    assert rc == 130, f"{out}\n{err}"
    assert err.strip() == "*** interrupted; connection closed", err
    assert "=== Server Status ===" not in out
    admin = srv.login("admin", "adminpass")
    deadline = time.monotonic() + 5
    while True:
        status, body, _ = srv.http("GET", "/api/ws/status", token=admin)
        if (status == 200 and body["active_connections"] == 0) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert (status, body["active_connections"], body["subscriptions"]) == (200, 0, {}), body


def test_strategy_mode_prints_signals_status_and_fills(server: Server) -> None:
    server.add_user("botstrat", "password1")
    proc = run_bot("--url", server.url, "--username", "botstrat", "--password", "password1",
                   "--strategy", "breakout", "--params", '{"window": 2}', "--auto-trade",
                   "--quantity", "2", "--seconds", "15")
    assert proc.returncode == 0, explain(proc)
    lines = proc.stdout.splitlines()
    created = value_after(lines, "Created ")
    sid = created.split(":")[0]
    assert sid.startswith("STR") and "auto_trade on" in created
    signals = [ln for ln in lines if " SIGNAL " in ln]
    assert signals, explain(proc)
    assert any(re.search(r"status running: position \d+", ln) for ln in lines)
    assert any(re.search(r" buy 2 005930: filled 2/2 @ [\d,]+원", ln) for ln in lines), \
        explain(proc)
    seqs = [int(m.group(1)) for ln in lines if (m := re.match(r"\[seq (\d+)\]", ln))]
    assert seqs == sorted(set(seqs)), "seqs must rise with no duplicate"
    status, run, _ = server.http("GET", f"/api/strategies/{sid}", token=server.login(
        "botstrat", "password1"))
    assert status == 200 and run["state"] == "stopped" and run["signals"] >= len(signals)


def test_every_client_takes_the_server_from_hts_url(server: Server) -> None:
    """One variable for every client and example: the Python bot, the Node bot and the
    seed walkthrough find the server through HTS_URL alone (the seed examples in
    tests/test_seed_examples.py)."""
    env = {**bot_env(), "HTS_URL": server.url}
    node = shutil.which("node")
    assert node is not None
    for cmd in ([*BOT, "--seconds", "1"],
                [node, str(ROOT / "clients" / "js" / "bot.mjs"), "--seconds", "1"],
                [sys.executable, "-m", "clients.seed.walkthrough", "--seconds", "1"]):
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              encoding="utf-8", timeout=90)
        assert proc.returncode == 0, explain(proc)
        assert "price" in proc.stdout.lower(), explain(proc)
