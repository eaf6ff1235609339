"""An example trading bot for hts-realtime (python-socketio ``AsyncClient`` + aiohttp).

Run it against a live server (``hts-realtime serve --demo``)::

    python -m clients.bot                       # prices: the seed's walkthrough
    python -m clients.bot --order --quantity 10 # place an order and follow it to the end
    python -m clients.bot --resume-demo         # lose the connection, come back, catch up
    python -m clients.bot --strategy breakout --params '{"window": 5}' --auto-trade

It stays connected across server restarts: python-socketio's reconnection
logic dials again, and the handshake ``auth`` (a callable, evaluated on every
attempt) carries the token, the subscribed topics and the last private
``seq`` seen, so one handshake restores the subscriptions and replays what
was missed. Private events are de-duplicated by ``seq``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import socketio

TOKEN_PREVIEW = 36
REQUEST_TIMEOUT = 10.0
POLL_INTERVAL = 0.2
FINAL_STATUSES = frozenset({"filled", "cancelled", "rejected"})
PRIVATE_EVENTS = ("order_update", "strategy_signal", "strategy_status")
ECHOED_EVENTS = ("subscribed", "unsubscribed", "price", "error")
EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130

Payload = dict[str, Any]
T = TypeVar("T")


class BotError(Exception):
    """A failure worth one line on stderr and a non-zero exit code."""


class Unreachable(BotError):
    """The server did not answer at all (refused, reset, timed out)."""


async def bounded(awaitable: Awaitable[T], seconds: float, failure: str) -> T:
    """``awaitable``, or ``BotError(failure)`` once ``seconds`` have passed."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise BotError(failure) from None


# -- output ------------------------------------------------------------------------------
def say(text: str = "") -> None:
    print(text, flush=True)


def section(title: str, *, first: bool = False) -> None:
    say(("" if first else "\n") + f"=== {title} ===")


def compact(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def preview(token: str) -> str:
    """Enough of a token to recognise it, never the whole (signed) thing."""
    return token[:TOKEN_PREVIEW] + "..."


def won(amount: int) -> str:
    return f"{amount:,}원"


def signed_won(amount: int) -> str:
    return f"{amount:+,}원"


def error_text(body: Any, fallback: str) -> str:
    """``code: message`` from an ``{"error": {...}}`` body or a failed ack."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('code', 'error')}: {error.get('message', '')}".rstrip(": ")
    return fallback


def describe_order(data: Payload) -> str:
    text = (f"{data['order_id']} {data['side']} {data['quantity']} {data['symbol']}: "
            f"{data['status']} {data['filled_quantity']}/{data['quantity']}")
    if data.get("filled_price"):
        text += f" @ {won(int(data['filled_price']))}"
    return text


def price_line(n: int, payload: Payload) -> str:
    data = payload["data"]
    return f"[{n}] {payload['symbol']}: {won(int(data['price']))} ({data['change_percent']:+.2f}%)"


# -- HTTP --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never show the password, even in a traceback
        return f"Credentials(username={self.username!r})"


class Api:
    """The REST side: login, orders, status. Errors become ``BotError``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))

    async def close(self) -> None:
        await self._http.close()

    async def request(
        self, method: str, path: str, *, token: str | None = None, body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        try:
            async with self._http.request(method, self.base_url + path, json=body,
                                          headers=all_headers) as resp:
                try:
                    data = await resp.json(content_type=None)
                except ValueError:
                    data = None
                return resp.status, data
        except aiohttp.ClientConnectionError as exc:
            raise Unreachable(f"cannot reach the server at {self.base_url}: {exc}") from None
        except TimeoutError:
            raise Unreachable(f"{method} {path}: no answer within {REQUEST_TIMEOUT:g} s") from None

    async def login(self, creds: Credentials) -> str:
        status, body = await self.request(
            "POST", "/api/auth/login",
            body={"username": creds.username, "password": creds.password},
        )
        if status != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise BotError(f"login failed for {creds.username!r}: "
                           f"{error_text(body, f'HTTP {status}')}")
        return str(body["access_token"])

    async def status(self, token: str) -> Payload:
        return await self._expect(200, "GET", "/api/ws/status", token=token)

    async def get_order(self, token: str, order_id: str) -> Payload:
        return await self._expect(200, "GET", f"/api/orders/{order_id}", token=token)

    async def place_order(self, token: str, order: Payload) -> Payload:
        # The key makes a retry safe: the server answers a repeated key with the
        # order it already placed instead of placing a second one.
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        try:
            return await self._expect(201, "POST", "/api/orders", token=token, body=order,
                                      headers=headers)
        except Unreachable:  # did it arrive? Asking again with the same key is safe
            await asyncio.sleep(1.0)
            return await self._expect(201, "POST", "/api/orders", token=token, body=order,
                                      headers=headers)

    async def create_strategy(self, token: str, spec: Payload) -> Payload:
        return await self._expect(201, "POST", "/api/strategies", token=token, body=spec)

    async def strategy_action(self, token: str, strategy_id: str, verb: str) -> Payload:
        return await self._expect(200, "POST", f"/api/strategies/{strategy_id}/{verb}",
                                  token=token, body={})

    async def _expect(self, expected: int, method: str, path: str, **kwargs: Any) -> Payload:
        status, body = await self.request(method, path, **kwargs)
        if status != expected or not isinstance(body, dict):
            raise BotError(f"{method} {path} failed: {error_text(body, f'HTTP {status}')}")
        return body


# -- Socket.IO ---------------------------------------------------------------------------
class Stream:
    """One Socket.IO connection that outlives server restarts and network drops."""

    def __init__(self, url: str, api: Api, creds: Credentials, token: str,
                 topics: list[str]) -> None:
        self.url = url
        self.api = api
        self.creds = creds
        self.token = token
        self.topics = list(topics)
        self.last_seq: int | None = None  # highest private seq handled
        self.replay_until = 0  # the server's head at the latest connect: seqs <= it are replays
        self.replayed: list[int] = []  # seqs replayed since the latest connect
        self.duplicates = 0
        self.on_price: Callable[[Payload], None] | None = None
        self.on_private: Callable[[str, Payload, bool], None] | None = None
        self.on_resync: Callable[[], None] | None = None
        self._connects = 0  # Socket.IO namespace connects
        self._connections = 0  # `connected` events
        self._closing = False
        self._holding = False  # the resume demo dropped the line on purpose
        self._relogin = False
        self._refusal: Payload | None = None
        self._hello = asyncio.Event()
        self._dropped = asyncio.Event()
        self._progress = asyncio.Event()
        # The bot owns the HTTP session of the websocket, so that it is closed
        # even when a reconnection loop is cut short.
        self._http = aiohttp.ClientSession()
        # handle_sigint=False: the bot handles Ctrl-C itself (see main()).
        self.sio: Any = socketio.AsyncClient(
            reconnection=True, reconnection_delay=0.5, reconnection_delay_max=2,
            handle_sigint=False, http_session=self._http,
        )
        self._register()

    def _register(self) -> None:
        handlers: dict[str, Callable[..., Any]] = {
            "connect": self._on_connect,
            "connect_error": self._on_connect_error,
            "disconnect": self._on_disconnect,
            "connected": self._on_connected,
            "price_update": self._on_price_update,
            "resync_required": self._on_resync_required,
        }
        for event in ECHOED_EVENTS:
            handlers[event] = self._on_echo
        for event in PRIVATE_EVENTS:
            handlers[event] = self._make_private_handler(event)
        for event, handler in handlers.items():
            self.sio.on(event, handler)

    # -- connecting ----------------------------------------------------------------------
    async def _auth(self) -> Payload:
        """The handshake payload, rebuilt for every (re)connection attempt."""
        if self._relogin:
            await self._login_again()
        auth: Payload = {"token": self.token}
        if self.topics:
            auth["topics"] = list(self.topics)
        if self.last_seq is not None:
            auth["last_seq"] = self.last_seq
        return auth

    async def _login_again(self) -> None:
        self._relogin = False
        say("*** token expired while away; logging in again")
        try:
            self.token = await self.api.login(self.creds)
        except BotError as exc:  # the next attempt is refused again; keep trying
            say(f"*** {exc}")

    async def connect(self) -> None:
        self._refusal = None
        try:
            await self.sio.connect(self.url, auth=self._auth, transports=["websocket"],
                                   wait_timeout=REQUEST_TIMEOUT)
        except socketio.exceptions.ConnectionError as exc:
            if self._refusal is not None:
                refusal = error_text({"error": self._refusal}, "")
                raise BotError(f"connection refused: {refusal}") from None
            raise BotError(f"cannot connect to {self.url}: {exc}") from None
        await bounded(self._hello.wait(), REQUEST_TIMEOUT,
                      "connected, but the server sent no 'connected' event")

    async def _transport_closed(self) -> None:
        # connect() refuses to start while the old Engine.IO transport is still
        # closing, and python-engineio has no event that says it is gone.
        while self.sio.eio.state != "disconnected":  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        self._closing = True
        try:
            await self.sio.shutdown()
        finally:
            await self._http.close()

    # -- the resume demo -----------------------------------------------------------------
    async def drop(self) -> None:
        """Lose the connection the way a network failure does.

        ``sio.disconnect()`` would say goodbye (a Socket.IO DISCONNECT and an
        Engine.IO close packet) and the server would know we left on purpose.
        Shutting down the TCP socket under the websocket sends neither: the
        server just sees the peer vanish. Reconnection is paused so that the
        demo decides when to come back.
        """
        ws = self.sio.eio.ws
        sock = ws.get_extra_info("socket") if ws is not None else None
        if sock is None:
            raise BotError("cannot drop the connection: it is not a websocket")
        self._holding = True
        self._dropped.clear()
        self.sio.reconnection = False
        sock.shutdown(socket.SHUT_RDWR)
        await bounded(self._dropped.wait(), REQUEST_TIMEOUT, "the dropped connection lingers")
        await self._transport_closed()

    async def resume(self) -> None:
        """Connect again: the same ``auth`` callable now carries ``last_seq``."""
        self._holding = False
        self.sio.reconnection = True
        await self.connect()

    def private_topics(self) -> list[str]:
        return [t for t in self.topics if not t.startswith("price:")]

    # -- requests ------------------------------------------------------------------------
    async def call(self, event: str, data: Payload) -> Payload:
        """Send a request and return its acknowledgement; a refusal is a ``BotError``."""
        try:
            ack = await self.sio.call(event, data, timeout=REQUEST_TIMEOUT)
        except socketio.exceptions.TimeoutError:
            raise BotError(f"{event}: no acknowledgement within {REQUEST_TIMEOUT:g} s") from None
        except socketio.exceptions.BadNamespaceError:
            raise BotError(f"{event}: not connected") from None
        if not isinstance(ack, dict) or ack.get("ok") is not True:
            raise BotError(f"{event} failed: {error_text(ack, repr(ack))}")
        return ack

    async def wait_for_seq(self, seq: int) -> None:
        """Wait until every private event up to ``seq`` has been handled."""
        while self.last_seq is None or self.last_seq < seq:
            self._progress.clear()
            await self._progress.wait()

    # -- server events -------------------------------------------------------------------
    async def _on_connect(self) -> None:
        # The handshake's answer: it arrives before any event of the connection.
        self._connects += 1
        if self._connects > 1:
            say(f"*** reconnected (topics: {', '.join(self.topics) or 'none'})")

    async def _on_connect_error(self, data: Any = None) -> None:
        # A dict is the server refusing us; a string is python-socketio failing
        # to reach it at all (the retry loop just goes on).
        self._refusal = data if isinstance(data, dict) else None
        if self._refusal is None:
            return
        if self._refusal.get("code") == "token_expired":
            self._relogin = True
        if self._connects:
            say(f"*** reconnect refused: {error_text({'error': data}, repr(data))}")

    async def _on_disconnect(self, reason: str = "") -> None:
        self._hello.clear()
        if self._closing:
            return
        if self._holding:
            self._dropped.set()
            return
        # python-socketio reconnects by itself after a lost transport (a dead
        # network, a server restart); a deliberate server disconnect is final.
        say(f"*** disconnected, reconnecting... ({reason})")

    async def _on_connected(self, payload: Payload) -> None:
        self._connections += 1
        head = int(payload.get("last_seq") or 0)
        if self._connections == 1:
            say(f"Received: {compact(payload)}")
        elif self.last_seq is not None and self.private_topics():
            say(f"*** resuming after seq {self.last_seq}; server at seq {head}")
        if self.last_seq is None:
            self.last_seq = head  # a first connect: only what happens from now on
        self.replay_until = head
        self.replayed = []
        self._hello.set()

    async def _on_echo(self, payload: Payload) -> None:
        say(f"Received: {compact(payload)}")

    async def _on_price_update(self, payload: Payload) -> None:
        if self.on_price is not None:
            self.on_price(payload)

    async def _on_resync_required(self, payload: Payload) -> None:
        say(f"*** resync_required: the server cannot replay the events after seq "
            f"{self.last_seq}; refetching state over HTTP")
        self.last_seq = int(payload.get("last_seq") or 0)
        self.replay_until = self.last_seq
        if self.on_resync is not None:
            self.on_resync()
        self._progress.set()

    def _make_private_handler(self, event: str) -> Callable[[Payload], Any]:
        async def handle(payload: Payload) -> None:
            self._on_private(event, payload)

        return handle

    def _on_private(self, event: str, payload: Payload) -> None:
        seq = payload.get("seq")
        if not isinstance(seq, int):
            return
        if self.last_seq is not None and seq <= self.last_seq:
            self.duplicates += 1  # already handled: a replay overlapping a live copy
            return
        replayed = seq <= self.replay_until
        if replayed:
            self.replayed.append(seq)
        self.last_seq = seq
        if self.on_private is not None:
            self.on_private(event, payload, replayed)
        self._progress.set()


# -- orders ------------------------------------------------------------------------------
class OrderTracker:
    """Prints the user's order updates and remembers which orders are done."""

    def __init__(self) -> None:
        self.final: dict[str, Payload] = {}
        self._changed = asyncio.Event()
        self._stale = False  # the stream was resynced: ask HTTP instead

    def on_private(self, event: str, payload: Payload, replayed: bool) -> None:
        if event != "order_update":
            return
        data = payload["data"]
        say(f"{'replayed ' if replayed else ''}[seq {payload['seq']}] {describe_order(data)}")
        self.note(data)

    def note(self, data: Payload) -> None:
        if data.get("status") in FINAL_STATUSES:
            self.final[str(data["order_id"])] = data
        self._changed.set()

    def resync(self) -> None:
        self._stale = True
        self._changed.set()

    async def wait_final(self, order_id: str,
                         refetch: Callable[[], Awaitable[Payload]]) -> Payload:
        while order_id not in self.final:
            self._changed.clear()
            await self._changed.wait()
            if self._stale:
                self._stale = False
                self.note(await refetch())
        return self.final[order_id]


def order_request(args: argparse.Namespace) -> Payload:
    order: Payload = {"symbol": args.symbol, "side": args.side, "quantity": args.quantity,
                      "order_type": "market" if args.price is None else "limit"}
    if args.price is not None:
        order["price"] = args.price
    return order


async def place(api: Api, stream: Stream, tracker: OrderTracker, args: argparse.Namespace,
                note: str = "") -> str:
    order = await api.place_order(stream.token, order_request(args))
    kind = "market" if order.get("price") is None else f"limit @ {won(int(order['price']))}"
    say(f"Placed {order['order_id']}: {order['side']} {order['quantity']} {order['symbol']} "
        f"{kind}{note}")
    tracker.note(order)
    return str(order["order_id"])


def still_open(order_id: str, args: argparse.Namespace) -> str:
    return f"order {order_id} is still open after {args.timeout:g} s"


async def follow(api: Api, stream: Stream, tracker: OrderTracker, order_id: str,
                 args: argparse.Namespace) -> Payload:
    """Wait for the order's final update (printed as it arrives)."""
    async def refetch() -> Payload:
        return await api.get_order(stream.token, order_id)

    final = await bounded(tracker.wait_final(order_id, refetch), args.timeout,
                          still_open(order_id, args))
    if final["status"] == "rejected":
        raise BotError(f"order {order_id} was rejected: {final.get('reason') or 'no reason'}")
    return final


async def poll_until_final(api: Api, token: str, order_id: str) -> Payload:
    """Ask the server over HTTP until the order is done (no stream while away)."""
    while True:
        order = await api.get_order(token, order_id)
        if order["status"] in FINAL_STATUSES:
            return order
        await asyncio.sleep(POLL_INTERVAL)


def show_account(account: Payload, before: Payload | None = None) -> None:
    cash = int(account["cash"])
    if before is None:
        say(f"Cash: {won(cash)}")
    else:
        was = int(before["cash"])
        say(f"Cash: {won(cash)} (was {won(was)}, {signed_won(cash - was)})")
    positions = account.get("positions") or []
    say("Positions:" if positions else "Positions: none")
    for p in positions:
        say(f"  {p['symbol']} {p.get('name') or ''}: {p['quantity']} shares, "
            f"avg {won(int(p['avg_price']))}, now {won(int(p['market_price']))}, "
            f"P&L {signed_won(int(p['unrealized_pnl']))}")
    if "realized_pnl" in account:
        say(f"Realized P&L: {signed_won(int(account['realized_pnl']))}")
    if "unrealized_pnl" in account:
        say(f"Unrealized P&L: {signed_won(int(account['unrealized_pnl']))}")
    say(f"Total Value: {won(int(account['total_value']))}")


async def get_account(stream: Stream) -> Payload:
    data = (await stream.call("get_account", {}))["data"]
    if not isinstance(data, dict):
        raise BotError("get_account: the acknowledgement carries no account")
    return data


# -- modes -------------------------------------------------------------------------------
async def run_prices(args: argparse.Namespace, api: Api, stream: Stream) -> None:
    topic = f"price:{args.symbol}"
    section("Subscribe to Price")
    await stream.call("subscribe", {"topic": topic})
    stream.topics.append(topic)  # from now on every reconnection restores it
    section("Get Current Price")
    await stream.call("get_price", {"symbol": args.symbol})

    section(f"Real-time Price Updates ({args.seconds:g} seconds)")
    count = 0

    def on_price(payload: Payload) -> None:
        nonlocal count
        if payload.get("symbol") == args.symbol:
            count += 1
            say(price_line(count, payload))

    stream.on_price = on_price
    await asyncio.sleep(args.seconds)
    stream.on_price = None
    await show_status(args, api)


async def show_status(args: argparse.Namespace, api: Api) -> None:
    section("Server Status")
    try:
        admin = await api.login(Credentials(args.admin_username, args.admin_password))
    except BotError:
        say(f"(the server status needs an admin login; {args.admin_username!r} could not "
            "log in, so it is skipped)")
        return
    body = await api.status(admin)
    say(f"Active Connections: {body['active_connections']}")
    say(f"Active Users: {body['active_users']}")
    say(f"Price Streamer: {'Running' if body['price_streamer_running'] else 'Stopped'}")
    say(f"Subscriptions: {body['subscriptions']}")


async def run_order(args: argparse.Namespace, api: Api, stream: Stream) -> None:
    tracker = OrderTracker()
    stream.on_private = tracker.on_private
    stream.on_resync = tracker.resync
    section("Account (before)")
    before = await get_account(stream)
    say(f"Cash: {won(int(before['cash']))}")
    section("Order")
    order_id = await place(api, stream, tracker, args)
    await follow(api, stream, tracker, order_id, args)
    section("Account")
    show_account(await get_account(stream), before)


async def run_resume_demo(args: argparse.Namespace, api: Api, stream: Stream) -> None:
    tracker = OrderTracker()
    stream.on_private = tracker.on_private
    stream.on_resync = tracker.resync
    before = await get_account(stream)

    section("Order 1 (live)")
    await follow(api, stream, tracker, await place(api, stream, tracker, args), args)

    section("Connection Lost")
    await stream.drop()
    seen = stream.last_seq
    say(f"*** connection dropped abruptly (no close packet sent); last_seq={seen}")

    section("Order 2 (placed while away)")
    away = await place(api, stream, tracker, args, " (over HTTP, while disconnected)")
    final = await bounded(poll_until_final(api, stream.token, away), args.timeout,
                          still_open(away, args))
    say(f"{away} is {final['status']} on the server; none of its events reached us yet")

    section("Reconnect and Resume")
    await stream.resume()
    await bounded(stream.wait_for_seq(stream.replay_until), args.timeout,
                  f"the replay up to seq {stream.replay_until} did not arrive")
    replayed = stream.replayed
    span = f"seq {replayed[0]}..{replayed[-1]}" if replayed else "nothing"
    say(f"Resumed after seq {seen}: replayed {len(replayed)} missed events ({span}), "
        f"{stream.duplicates} duplicates ignored")

    section("Order 3 (live)")
    await follow(api, stream, tracker, await place(api, stream, tracker, args), args)

    section("Account")
    show_account(await get_account(stream), before)


def describe_strategy_event(event: str, payload: Payload) -> str:
    data = payload["data"]
    if event == "strategy_signal":
        return (f"[seq {payload['seq']}] SIGNAL {data['signal'].upper()} {data['quantity']} "
                f"{data['symbol']} @ {won(int(data['price']))}: {data['reason']}")
    if event == "strategy_status":
        return (f"[seq {payload['seq']}] status {data['state']}: position {data['position']}, "
                f"realized {signed_won(int(data['realized_pnl']))}, "
                f"unrealized {signed_won(int(data['unrealized_pnl']))}")
    return f"[seq {payload['seq']}] {describe_order(data)}"


async def run_strategy(args: argparse.Namespace, api: Api, stream: Stream) -> None:
    try:
        params = json.loads(args.params)
    except ValueError:
        raise BotError(f"--params is not JSON: {args.params!r}") from None
    spec = {"kind": args.strategy, "symbol": args.symbol, "params": params,
            "quantity": args.quantity, "auto_trade": args.auto_trade}
    section("Create Strategy")
    run = await api.create_strategy(stream.token, spec)
    sid = str(run["strategy_id"])
    say(f"Created {sid}: {run['kind']} on {run['symbol']} {compact(run['params'])}, "
        f"quantity {run['quantity']}, auto_trade {'on' if run['auto_trade'] else 'off'}")
    topic = f"strategy:{sid}"
    await stream.call("subscribe", {"topic": topic})
    stream.topics.append(topic)
    stream.on_private = lambda event, payload, replayed: say(
        ("replayed " if replayed else "") + describe_strategy_event(event, payload))
    section(f"Running ({args.seconds:g} seconds)")
    await api.strategy_action(stream.token, sid, "start")
    await asyncio.sleep(args.seconds)
    final = await api.strategy_action(stream.token, sid, "stop")
    section("Strategy (stopped)")
    say(f"{sid}: {final['signals']} signals, position {final['position']}, "
        f"realized {signed_won(int(final['realized_pnl']))}, "
        f"unrealized {signed_won(int(final['unrealized_pnl']))}")


MODES = {"prices": run_prices, "order": run_order, "resume-demo": run_resume_demo,
         "strategy": run_strategy}


# -- main --------------------------------------------------------------------------------
async def run(args: argparse.Namespace) -> None:
    api = Api(args.url)
    stream: Stream | None = None
    creds = Credentials(args.username, args.password)
    try:
        section("Login", first=True)
        token = await api.login(creds)
        say(f"Access Token: {preview(token)}")
        topics = ["order:*"] if args.mode in ("order", "resume-demo") or args.auto_trade else []
        stream = Stream(args.url, api, creds, token, topics)
        section("Socket.IO Connection")
        await stream.connect()
        await MODES[args.mode](args, api, stream)
    finally:
        if stream is not None:
            await stream.close()
        await api.close()


async def run_until_stopped(args: argparse.Namespace) -> None:
    """``run`` with Ctrl-C and SIGTERM cancelling it, so its cleanup still runs."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, task.cancel)
    await run(args)


def positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text}")
        return value

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m clients.bot", description=__doc__.split("\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    p.add_argument("--username", default="testuser")
    p.add_argument("--password", default="testpass")
    p.add_argument("--admin-username", default="admin", help="for GET /api/ws/status")
    p.add_argument("--admin-password", default="adminpass")
    p.add_argument("--symbol", default="005930", help="KRX code (default: 005930)")
    p.add_argument("--seconds", type=positive(float), default=10.0,
                   help="how long to print price updates (prices mode)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--order", dest="mode", action="store_const", const="order",
                      help="place an order and follow it until it is done")
    mode.add_argument("--resume-demo", dest="mode", action="store_const", const="resume-demo",
                      help="drop the connection, trade while away, reconnect and catch up")
    mode.add_argument("--strategy", metavar="KIND", dest="strategy", default=None,
                      choices=("ma_crossover", "rsi", "breakout"),
                      help="create a strategy of KIND, run it for --seconds, print its "
                           "signals and status")
    p.set_defaults(mode="prices")
    p.add_argument("--params", default="{}", help='strategy parameters as JSON, e.g. '
                   '\'{"window": 5}\'')
    p.add_argument("--auto-trade", action="store_true",
                   help="let the strategy place paper orders (strategy mode)")
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
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_ERROR
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("*** interrupted; connection closed", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
