"""An example trading bot for hts-realtime, built on the ``hts-client`` SDK.

Run it against a live server (``hts-realtime serve --demo``)::

    python -m clients.bot                       # prices: the seed's walkthrough
    python -m clients.bot --order --quantity 10 # place an order and follow it to the end
    python -m clients.bot --resume-demo         # lose the connection, come back, catch up
    python -m clients.bot --strategy breakout --params '{"window": 5}' --auto-trade

Staying connected, resuming with ``last_seq``, dedupe, ``resync_required``
and logging in again after an expired token are the SDK's ``Stream``; this
file only decides what to do and prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from hts_client import Event, HtsError, HttpClient, Stream

FINAL = frozenset({"filled", "cancelled", "rejected"})
T = TypeVar("T")


class BotError(Exception):
    """A failure worth one line on stderr and a non-zero exit code."""


def say(text: str = "") -> None:
    print(text, flush=True)


def section(title: str, *, first: bool = False) -> None:
    say(("" if first else "\n") + f"=== {title} ===")


def compact(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def won(amount: Any, sign: str = "") -> str:
    return f"{int(amount):{sign},}원"


def describe(data: dict[str, Any]) -> str:
    text = (f"{data['order_id']} {data['side']} {data['quantity']} {data['symbol']}: "
            f"{data['status']} {data['filled_quantity']}/{data['quantity']}")
    return text + (f" @ {won(data['filled_price'])}" if data.get("filled_price") else "")


def describe_private(ev: Event) -> str:
    d, head = ev.data["data"], ("replayed " if ev.replayed else "") + f"[seq {ev.seq}] "
    if ev.name == "strategy_signal":
        return (head + f"SIGNAL {d['signal'].upper()} {d['quantity']} {d['symbol']} @ "
                f"{won(d['price'])}: {d['reason']}")
    if ev.name == "strategy_status":
        return (head + f"status {d['state']}: position {d['position']}, realized "
                f"{won(d['realized_pnl'], '+')}, unrealized {won(d['unrealized_pnl'], '+')}")
    return head + describe(d)


async def bounded(awaitable: Awaitable[T], seconds: float, failure: str) -> T:
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise BotError(failure) from None


class Bot:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.api = HttpClient(args.url)
        private = args.mode in ("order", "resume-demo") or args.auto_trade
        self.stream = Stream(args.url, token=lambda: self.api.token or "",
                             topics=["order:*"] if private else [],
                             refresh_token=self.relogin, on_resync=self.resynced)
        self.orders: dict[str, dict[str, Any]] = {}  # the latest known state of each order
        self.changed = asyncio.Event()
        self.hellos = 0
        self.stream.on_state(self.on_state)
        self.stream.on("connected", self.on_connected)
        for event in ("subscribed", "unsubscribed", "price", "error"):
            self.stream.on(event, lambda ev: say(f"Received: {compact(ev.data)}"))
        for event in ("order_update", "strategy_signal", "strategy_status"):
            self.stream.on(event, self.on_private)

    # -- what the stream tells us ----------------------------------------------------------
    def on_state(self, state: str, detail: str) -> None:
        if state == "connected" and detail == "reconnected":
            say(f"*** reconnected (topics: {', '.join(self.stream.topics) or 'none'})")
        elif state == "reconnecting":
            say(f"*** disconnected, reconnecting... ({detail})")
        elif state == "refused":
            say(f"*** reconnect refused: {detail}")
        elif state == "closed" and detail:
            say(f"*** the server closed the connection for good: {detail}")

    def on_connected(self, ev: Event) -> None:
        self.hellos += 1
        if self.hellos == 1:
            say(f"Received: {compact(ev.data)}")
        elif any(not t.startswith("price:") for t in self.stream.topics):
            say(f"*** resuming after seq {self.stream.last_seq}; "
                f"server at seq {ev.data['last_seq']}")

    def on_private(self, ev: Event) -> None:
        if self.args.mode == "strategy" or ev.name == "order_update":
            say(describe_private(ev))
        if ev.name == "order_update":
            self.note(ev.data["data"])

    async def relogin(self) -> str:
        """A fresh access token: the stream asks before its token expires (it renews the
        open connection) and after a reconnect refused ``token_expired``."""
        say("*** refreshing the access token")
        return await self.api.refresh()

    async def resynced(self, ev: Event) -> None:
        say(f"*** resync_required: the server cannot replay the events after seq "
            f"{self.stream.last_seq}; refetching state over HTTP")
        for order_id in list(self.orders):
            self.note(await self.api.order(order_id))

    def note(self, order: dict[str, Any]) -> None:
        self.orders[str(order["order_id"])] = order
        self.changed.set()

    # -- orders ------------------------------------------------------------------------------
    async def place(self, note: str = "") -> str:
        a = self.args
        spec: dict[str, Any] = {"symbol": a.symbol, "side": a.side, "quantity": a.quantity,
                                "order_type": "market" if a.price is None else "limit"}
        if a.price is not None:
            spec["price"] = a.price
        order = await self.api.place_order(spec)
        kind = "market" if order.get("price") is None else f"limit @ {won(order['price'])}"
        say(f"Placed {order['order_id']}: {order['side']} {order['quantity']} "
            f"{order['symbol']} {kind}{note}")
        self.orders.setdefault(str(order["order_id"]), order)
        return str(order["order_id"])

    async def follow(self, order_id: str) -> dict[str, Any]:
        async def final() -> dict[str, Any]:
            while self.orders[order_id]["status"] not in FINAL:
                self.changed.clear()
                await self.changed.wait()
            return self.orders[order_id]

        done = await bounded(final(), self.args.timeout, self.still_open(order_id))
        if done["status"] == "rejected":
            raise BotError(f"order {order_id} was rejected: {done.get('reason') or 'no reason'}")
        return done

    def still_open(self, order_id: str) -> str:
        return f"order {order_id} is still open after {self.args.timeout:g} s"

    async def account(self) -> dict[str, Any]:
        return dict((await self.stream.call("get_account"))["data"])

    def show_account(self, acc: dict[str, Any], before: dict[str, Any]) -> None:
        say(f"Cash: {won(acc['cash'])} (was {won(before['cash'])}, "
            f"{won(acc['cash'] - before['cash'], '+')})")
        say("Positions:" if acc.get("positions") else "Positions: none")
        for p in acc.get("positions") or []:
            say(f"  {p['symbol']} {p.get('name') or ''}: {p['quantity']} shares, avg "
                f"{won(p['avg_price'])}, now {won(p['market_price'])}, "
                f"P&L {won(p['unrealized_pnl'], '+')}")
        say(f"Realized P&L: {won(acc['realized_pnl'], '+')}")
        say(f"Unrealized P&L: {won(acc['unrealized_pnl'], '+')}")
        say(f"Total Value: {won(acc['total_value'])}")

    # -- modes -------------------------------------------------------------------------------
    async def prices(self) -> None:
        a = self.args
        section("Subscribe to Price")
        await self.stream.subscribe(f"price:{a.symbol}")
        section("Get Current Price")
        await self.stream.call("get_price", {"symbol": a.symbol})
        section(f"Real-time Price Updates ({a.seconds:g} seconds)")
        count = 0

        def on_price(ev: Event) -> None:
            nonlocal count
            if ev.data.get("symbol") == a.symbol and not done:
                count += 1
                d = ev.data["data"]
                say(f"[{count}] {a.symbol}: {won(d['price'])} ({d['change_percent']:+.2f}%)")

        done = False
        self.stream.on("price_update", on_price)
        await asyncio.sleep(a.seconds)
        done = True
        section("Server Status")
        admin = HttpClient(a.url)
        try:
            await admin.login(a.admin_username, a.admin_password)
            body = await admin.status()
        except HtsError:
            say(f"(the server status needs an admin login; {a.admin_username!r} could not "
                "log in, so it is skipped)")
            return
        finally:
            await admin.close()
        say(f"Active Connections: {body['active_connections']}")
        say(f"Active Users: {body['active_users']}")
        say(f"Price Streamer: {'Running' if body['price_streamer_running'] else 'Stopped'}")
        say(f"Subscriptions: {body['subscriptions']}")

    async def order(self) -> None:
        section("Account (before)")
        before = await self.account()
        say(f"Cash: {won(before['cash'])}")
        section("Order")
        await self.follow(await self.place())
        section("Account")
        self.show_account(await self.account(), before)

    async def resume_demo(self) -> None:
        before = await self.account()
        section("Order 1 (live)")
        await self.follow(await self.place())
        section("Connection Lost")
        await self.stream.drop()
        seen = self.stream.last_seq
        say(f"*** connection dropped abruptly (no close packet sent); last_seq={seen}")
        section("Order 2 (placed while away)")
        away = await self.place(" (over HTTP, while disconnected)")

        async def settled() -> dict[str, Any]:
            while (order := await self.api.order(away))["status"] not in FINAL:  # noqa: ASYNC110
                await asyncio.sleep(0.2)  # no stream while away: ask over HTTP
            return order

        final = await bounded(settled(), self.args.timeout, self.still_open(away))
        say(f"{away} is {final['status']} on the server; none of its events reached us yet")
        section("Reconnect and Resume")
        await self.stream.resume()
        await bounded(self.stream.wait_for_seq(self.stream.head), self.args.timeout,
                      f"the replay up to seq {self.stream.head} did not arrive")
        got = self.stream.replayed
        span = f"seq {got[0]}..{got[-1]}" if got else "nothing"
        say(f"Resumed after seq {seen}: replayed {len(got)} missed events ({span}), "
            f"{self.stream.duplicates} duplicates ignored")
        section("Order 3 (live)")
        await self.follow(await self.place())
        section("Account")
        self.show_account(await self.account(), before)

    async def strategy(self) -> None:
        a = self.args
        try:
            params = json.loads(a.params)
        except ValueError:
            raise BotError(f"--params is not JSON: {a.params!r}") from None
        section("Create Strategy")
        run = await self.api.create_strategy({"kind": a.strategy, "symbol": a.symbol,
                                              "params": params, "quantity": a.quantity,
                                              "auto_trade": a.auto_trade})
        sid = str(run["strategy_id"])
        say(f"Created {sid}: {run['kind']} on {run['symbol']} {compact(run['params'])}, "
            f"quantity {run['quantity']}, auto_trade {'on' if run['auto_trade'] else 'off'}")
        await self.stream.subscribe(f"strategy:{sid}")
        section(f"Running ({a.seconds:g} seconds)")
        await self.api.start_strategy(sid)
        await asyncio.sleep(a.seconds)
        final = await self.api.stop_strategy(sid)
        section("Strategy (stopped)")
        say(f"{sid}: {final['signals']} signals, position {final['position']}, "
            f"realized {won(final['realized_pnl'], '+')}, "
            f"unrealized {won(final['unrealized_pnl'], '+')}")

    async def run(self) -> None:
        a = self.args
        try:
            section("Login", first=True)
            try:
                await self.api.login(a.username, a.password)
            except HtsError as exc:
                if exc.code == "unreachable":
                    raise
                raise BotError(f"login failed for {a.username!r}: {exc}") from None
            say(f"Access Token: {(self.api.token or '')[:36]}...")
            section("Socket.IO Connection")
            await self.stream.connect()
            await {"prices": self.prices, "order": self.order, "resume-demo": self.resume_demo,
                   "strategy": self.strategy}[a.mode]()
        finally:
            await self.stream.close()
            await self.api.close()


async def run_until_stopped(args: argparse.Namespace) -> None:
    """``Bot.run`` with Ctrl-C and SIGTERM cancelling it, so its cleanup still runs."""
    task = asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(sig, task.cancel)
    await Bot(args).run()


def positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text}")
        return value
    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m clients.bot", description=__doc__.split("\n")[0])
    p.add_argument("--url", default=os.environ.get("HTS_URL", "http://127.0.0.1:8000"),
                   help="server base URL (default: $HTS_URL, else http://127.0.0.1:8000)")
    p.add_argument("--username", default="testuser")
    p.add_argument("--password", default="testpass")
    p.add_argument("--admin-username", default="admin", help="for GET /api/ws/status")
    p.add_argument("--admin-password", default="adminpass")
    p.add_argument("--symbol", default="005930", help="KRX code (default: 005930)")
    p.add_argument("--seconds", type=positive(float), default=10.0,
                   help="how long to print price updates / run the strategy")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--order", dest="mode", action="store_const", const="order",
                      help="place an order and follow it until it is done")
    mode.add_argument("--resume-demo", dest="mode", action="store_const", const="resume-demo",
                      help="drop the connection, trade while away, reconnect and catch up")
    mode.add_argument("--strategy", metavar="KIND", choices=("ma_crossover", "rsi", "breakout"),
                      help="create a strategy of KIND, run it for --seconds, print its events")
    p.set_defaults(mode="prices")
    p.add_argument("--params", default="{}", help="strategy parameters as JSON")
    p.add_argument("--auto-trade", action="store_true", help="let the strategy place orders")
    p.add_argument("--side", choices=("buy", "sell"), default="buy")
    p.add_argument("--quantity", type=positive(int), default=10)
    p.add_argument("--price", type=positive(int), default=None,
                   help="limit price in KRW (on the KRX tick grid); omit for a market order")
    p.add_argument("--timeout", type=positive(float), default=60.0,
                   help="how long to wait for an order to finish")
    args = p.parse_args(argv)
    if args.strategy is not None:
        args.mode = "strategy"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        asyncio.run(run_until_stopped(args))
    except (BotError, HtsError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("*** interrupted; connection closed", file=sys.stderr, flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
