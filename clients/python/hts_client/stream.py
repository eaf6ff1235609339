"""``Stream``: one Socket.IO connection to hts-realtime that survives drops.

It owns everything a client otherwise re-implements by hand (README, "The
private stream and resume"):

* **The handshake.** Every attempt (the first, and python-socketio's own
  reconnects) sends ``auth = {token, topics, last_seq}`` as they are at that
  moment, so a reconnect is back in its rooms and caught up in one step.
  After a deliberate server-side close, which python-socketio does not
  retry, the stream dials again itself.
* **last_seq and dedupe.** A private event (``order_update``,
  ``strategy_signal``, ``strategy_status``) reaches your handlers once, in
  ``seq`` order, marked ``replayed`` when it came from the resume replay;
  ``last_seq`` is stored (``store``: memory, a file, or yours) only after
  the handlers returned.
* **resync_required.** The stream awaits your ``on_resync`` (refetch over
  HTTP) and only then stores the server's head and goes on delivering.
* **Expiring tokens.** With ``refresh_token``, the server's ``token_expiring``
  warning gets a fresh token from it and sends ``renew``: the connection stays
  up past the old token's expiry, with its rooms and stream. A reconnect refused
  with ``token_expired`` awaits ``refresh_token()`` before the next attempt.

Events reach you through callbacks (``stream.on("order_update", fn)``, sync
or async) or an async iterator (``async for ev in stream.events(...)``), both
fed by one ordered dispatcher task: a slow handler delays later events, never
reorders them.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
import socketio

from hts_client.errors import HtsError, Unreachable
from hts_client.store import MemoryStore, SeqStore

log = logging.getLogger("hts_client")

PRIVATE_EVENTS = frozenset({"order_update", "strategy_signal", "strategy_status"})
# refusals that another attempt with the same token cannot fix
AUTH_CODES = frozenset({"auth_required", "auth_failed", "token_expired", "auth_revoked"})
DEFAULT_TIMEOUT = 10.0

TokenSource = str | Callable[[], str | Awaitable[str]]


@dataclass(frozen=True)
class Event:
    """A server event: ``name``, its payload ``data``; ``replayed`` for private
    events that came from the resume replay."""

    name: str
    data: dict[str, Any]
    replayed: bool = False

    @property
    def seq(self) -> int | None:
        seq = self.data.get("seq")
        return seq if isinstance(seq, int) else None


Handler = Callable[[Event], Any]
StateHandler = Callable[[str, str], Any]


class Stream:
    """States (``on_state``): ``connecting``, ``connected`` (detail ``first`` or
    ``reconnected``), ``reconnecting`` (detail: why), ``refused`` (detail: the
    error, e.g. ``token_expired: ...``), ``paused``, ``closed`` (detail: empty
    after ``close()``, or the refusal that ended the stream: an auth code no
    retry can fix, such as ``auth_revoked`` after a logout; also in ``error``)."""

    def __init__(
        self,
        url: str,
        *,
        token: TokenSource,
        topics: Iterable[str] = (),
        store: SeqStore | None = None,
        on_resync: Callable[[Event], Any] | None = None,
        refresh_token: Callable[[], Awaitable[str]] | None = None,
        transports: Iterable[str] = ("websocket",),
        reconnection_delay: float = 0.5,
        reconnection_delay_max: float = 2.0,
        timeout: float = DEFAULT_TIMEOUT,
        batch: bool = False,
    ) -> None:
        self.url = url
        # batch: the server sends one price_batch per tick; handlers still get price_updates
        self.batch = batch
        self.topics: list[str] = list(dict.fromkeys(topics))
        self.store: SeqStore = store if store is not None else MemoryStore()
        self.timeout = timeout
        self.state = "idle"
        self.head = 0  # the server's stream head at the latest `connected`
        self.replayed: list[int] = []  # seqs replayed since the latest connect
        self.duplicates = 0  # private events dropped because their seq was already handled
        self.error: HtsError | None = None  # why the stream gave up (state "closed")
        self.token_expires_at: int | None = None  # after a renew: the connection's new exp
        self._token = token
        self._on_resync = on_resync
        self._refresh_token = refresh_token
        self._transports = list(transports)
        self._delays = (reconnection_delay, reconnection_delay_max)
        self._handlers: dict[str, list[Handler]] = {}
        self._state_handlers: list[StateHandler] = []
        self._listeners: list[tuple[frozenset[str], asyncio.Queue[Event | None]]] = []
        self._inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._dispatcher: asyncio.Task[None] | None = None
        self._redial_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._hello = asyncio.Event()
        self._dropped = asyncio.Event()
        self._progress = asyncio.Event()
        self._connections = 0
        self._refusal: dict[str, Any] | None = None
        self._stale_token = False
        self._closing = False
        self._paused = False
        self._http: aiohttp.ClientSession | None = None
        self.sio: Any = None

    # -- subscribing to what arrives ---------------------------------------------------
    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Call ``handler(Event)`` for each ``event`` (``"*"``: every event). Usable
        as a decorator. Private events arrive once each, in seq order."""
        def register(fn: Handler) -> Handler:
            self._handlers.setdefault(event, []).append(fn)
            return fn
        return register(handler) if handler is not None else register

    def on_state(self, handler: StateHandler) -> StateHandler:
        self._state_handlers.append(handler)
        return handler

    async def events(self, *names: str) -> AsyncIterator[Event]:
        """Every event named (all when none are), in order, until the stream closes."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        entry = (frozenset(names), queue)
        self._listeners.append(entry)
        try:
            while (ev := await queue.get()) is not None:
                yield ev
        finally:
            self._listeners.remove(entry)

    @property
    def last_seq(self) -> int | None:
        """The highest private ``seq`` handled (None before the first connection)."""
        return self.store.get()

    @property
    def connected(self) -> bool:
        return self.state == "connected"

    # -- connecting ----------------------------------------------------------------------
    async def connect(self) -> None:
        """Connect and wait for ``connected``. A refusal raises ``HtsError`` with the
        server's code; a server that does not answer raises ``Unreachable``."""
        if self._dispatcher is None:
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())
        if self.sio is None:
            self._new_client()
        self._set_state("connecting", "")
        try:
            await self._dial()
        except HtsError as exc:
            # a token can expire between login and the first connection (a slow start):
            # with refresh_token that is as recoverable here as on a reconnection
            if exc.code != "token_expired" or self._refresh_token is None:
                raise
            self._stale_token = True
            await self._dial()

    def _new_client(self) -> None:
        # the stream owns the websocket's HTTP session, so it is closed even when a
        # reconnection loop is cut short
        self._http = aiohttp.ClientSession()
        low, high = self._delays
        self.sio = socketio.AsyncClient(reconnection=True, reconnection_delay=low,
                                        reconnection_delay_max=high, handle_sigint=False,
                                        http_session=self._http)
        self.sio.on("connect", self._on_connect)
        self.sio.on("connect_error", self._on_connect_error)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("*", self._on_any)

    async def _dial(self) -> None:
        self._refusal = None
        self._hello.clear()
        try:
            await self.sio.connect(self.url, auth=self._auth, transports=self._transports,
                                   wait_timeout=self.timeout)
        except socketio.exceptions.ConnectionError as exc:
            if self._refusal is not None:
                raise HtsError.from_body({"error": self._refusal}) from None
            raise Unreachable(f"cannot connect to {self.url}: {exc}") from None
        try:
            async with asyncio.timeout(self.timeout):
                await self._hello.wait()
        except TimeoutError:
            raise HtsError("timeout", "connected, but no 'connected' event arrived") from None

    async def _auth(self) -> dict[str, Any]:
        """The handshake payload, rebuilt for every attempt."""
        if self._stale_token and self._refresh_token is not None:
            self._stale_token = False
            try:
                self._token = await self._refresh_token()
            except HtsError as exc:  # the attempt is refused again; the loop goes on
                log.warning("refreshing the token failed: %s", exc)
        token = self._token() if callable(self._token) else self._token
        if inspect.isawaitable(token):
            token = await token
        auth: dict[str, Any] = {"token": token}
        if self.topics:
            auth["topics"] = list(self.topics)
        if self.batch:
            auth["batch"] = True
        last_seq = self.store.get()
        if last_seq is not None:
            auth["last_seq"] = last_seq
        return auth

    async def close(self) -> None:
        """Disconnect for good; iterators from ``events()`` end."""
        self._closing = True
        if self._redial_task is not None:
            self._redial_task.cancel()
        if self.sio is not None:
            try:
                await self.sio.shutdown()
            finally:
                if self._http is not None:
                    await self._http.close()
        if self._dispatcher is not None:
            await self._inbox.put(("__closed__", None))
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher

    async def __aenter__(self) -> Stream:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- dropping the line on purpose (demos and tests of resume) ------------------------
    async def drop(self) -> None:
        """Lose the connection the way a dead network does (no close packet: the
        server just sees the peer vanish) and hold reconnection until ``resume()``."""
        ws = self.sio.eio.ws if self.sio is not None else None
        sock = ws.get_extra_info("socket") if ws is not None else None
        if sock is None:
            raise HtsError("not_connected", "drop() needs a websocket connection")
        self._paused = True
        self._dropped.clear()
        self.sio.reconnection = False
        sock.shutdown(socket.SHUT_RDWR)
        async with asyncio.timeout(self.timeout):
            await self._dropped.wait()
            await self._transport_closed()
        self._set_state("paused", "")

    async def resume(self) -> None:
        """Connect again after ``drop()``: the handshake carries ``last_seq``."""
        self._paused = False
        self.sio.reconnection = True
        self._set_state("connecting", "")
        try:
            await self._dial()
        except HtsError as exc:
            # a token can expire between login and the first connection (a slow start):
            # with refresh_token that is as recoverable here as on a reconnection
            if exc.code != "token_expired" or self._refresh_token is None:
                raise
            self._stale_token = True
            await self._dial()

    async def _transport_closed(self) -> None:
        # connect() refuses to start while the old Engine.IO transport is still
        # closing, and python-engineio has no event that says it is gone
        while self.sio.eio.state != "disconnected":  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    # -- requests ------------------------------------------------------------------------
    async def call(self, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a request; returns its acknowledgement, raises ``HtsError`` on a refusal."""
        try:
            ack = await self.sio.call(event, data if data is not None else {},
                                      timeout=self.timeout)
        except socketio.exceptions.TimeoutError:
            raise HtsError("timeout", f"{event}: no acknowledgement in {self.timeout:g} s") \
                from None
        except (socketio.exceptions.BadNamespaceError, AttributeError):
            raise HtsError("not_connected", f"{event}: not connected") from None
        if not isinstance(ack, dict) or ack.get("ok") is not True:
            raise HtsError.from_body(ack, None, f"{event} failed")
        return ack

    async def subscribe(self, *topics: str) -> list[str]:
        """Subscribe now; every later handshake carries these topics too."""
        ack = await self.call("subscribe", {"topics": list(topics)})
        self.topics = list(dict.fromkeys([*self.topics, *topics]))
        return list(ack["topics"])

    async def unsubscribe(self, *topics: str) -> list[str]:
        ack = await self.call("unsubscribe", {"topics": list(topics)})
        self.topics = [t for t in self.topics if t not in topics]
        return list(ack["topics"])

    async def wait_for_seq(self, seq: int) -> None:
        """Until every private event up to ``seq`` has been handled (or resynced past)."""
        while (self.last_seq or 0) < seq:
            self._progress.clear()
            await self._progress.wait()

    # -- from python-socketio (no awaits before queueing: keeps arrival order) -----------
    async def _on_any(self, event: str, *args: Any) -> None:
        payload = args[0] if args else None
        if event == "error" and isinstance(payload, dict) and payload.get("event") is None \
                and payload.get("code") in AUTH_CODES:  # the server is closing us: why
            self._refusal = payload
        if event == "token_expiring" and self._refresh_token is not None:
            self._start(self._renew())
        self._inbox.put_nowait((event, payload))

    async def _renew(self) -> None:
        """A fresh token for the open connection (``renew``), before the server closes it."""
        assert self._refresh_token is not None
        try:
            token = await self._refresh_token()
            ack = await self.call("renew", {"token": token})
        except (HtsError, Unreachable) as exc:  # the server closes us at exp; we redial
            log.warning("renewing the token failed: %s", exc)
            return
        if not callable(self._token):
            self._token = token  # the next handshake too
        self.token_expires_at = int(ack["expires_at"])

    async def _on_connect(self) -> None:
        self._inbox.put_nowait(("__connect__", None))

    async def _on_connect_error(self, data: Any = None) -> None:
        # a dict is the server refusing us; a string is not reaching it (the loop retries)
        self._refusal = data if isinstance(data, dict) else None
        if self._refusal is None:
            return
        code = self._refusal.get("code")
        if code == "token_expired":
            self._stale_token = True
        if self._connections:
            self._inbox.put_nowait(("__refused__", self._refusal))
            if self._final(code):
                self._start(self._give_up(HtsError.from_body({"error": self._refusal})))

    async def _on_disconnect(self, reason: Any = "") -> None:
        self._hello.clear()
        if self._closing:
            return
        if self._paused:
            self._dropped.set()
            return
        if reason == self.sio.reason.SERVER_DISCONNECT and self._refusal is not None \
                and self._final(self._refusal.get("code")):  # closed for good (e.g. logout)
            self._start(self._give_up(HtsError.from_body({"error": self._refusal})))
            return
        self._inbox.put_nowait(("__disconnect__", str(reason)))
        if reason == self.sio.reason.SERVER_DISCONNECT:  # python-socketio will not retry
            self._redial_task = asyncio.get_running_loop().create_task(self._redial())

    async def _redial(self) -> None:
        low, high = self._delays
        delay = low
        await self._transport_closed()
        while not self._closing and not self.sio.connected:
            await asyncio.sleep(delay)
            try:
                await self._dial()
            except HtsError as exc:
                if self._final(exc.code):
                    await self._give_up(exc)
                    return
                log.info("reconnect failed: %s", exc)
                delay = min(delay * 2, high)

    def _final(self, code: Any) -> bool:
        """A refusal no retry can fix (an expired token is, with ``refresh_token``)."""
        if code == "token_expired" and self._refresh_token is not None:
            return False
        return code in AUTH_CODES

    async def _give_up(self, error: HtsError) -> None:
        """Stop reconnecting: state ``closed`` with the refusal, ``error`` set."""
        if self._closing:
            return
        self.error = error
        self._closing = True
        with contextlib.suppress(Exception):
            await self.sio.shutdown()  # also ends python-socketio's reconnection loop
        self._inbox.put_nowait(("__gave_up__", str(error)))

    def _start(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the ordered dispatcher ----------------------------------------------------------
    async def _dispatch(self) -> None:
        while True:
            name, payload = await self._inbox.get()
            try:
                if name == "__closed__":
                    self._set_state("closed", "")
                    for _, queue in self._listeners:
                        queue.put_nowait(None)
                    return
                await self._handle(name, payload)
            except Exception:  # a failing handler must not stop the stream
                log.exception("handling %s failed", name)

    async def _handle(self, name: str, payload: Any) -> None:
        if name == "__connect__":
            return
        if name == "__refused__":
            error = HtsError.from_body({"error": payload})
            await self._notify_state("refused", str(error))
            return
        if name == "__disconnect__":
            await self._notify_state("reconnecting", payload)
            return
        if name == "__gave_up__":
            await self._notify_state("closed", payload)
            for _, queue in self._listeners:
                queue.put_nowait(None)
            return
        data = payload if isinstance(payload, dict) else {"value": payload}
        if name == "connected":
            await self._connected(data)
        elif name == "resync_required":
            await self._resync(data)
        elif name in PRIVATE_EVENTS:
            await self._private(name, data)
        elif name == "price_batch":  # one tick's updates, handed out one by one
            for update in data.get("updates") or ():
                await self._emit(Event("price_update", update))
            await self._emit(Event("price_batch", data))  # for whoever wants the whole tick
        else:
            await self._emit(Event(name, data))

    async def _connected(self, data: dict[str, Any]) -> None:
        self._connections += 1
        self._refusal = None
        head = int(data.get("last_seq") or 0)
        self.head = head
        self.replayed = []
        await self._notify_state("connected", "first" if self._connections == 1 else "reconnected")
        await self._emit(Event("connected", data))
        if self.store.get() is None:
            self.store.set(head)  # a first connection: only what happens from now on
        self._hello.set()
        self._progress.set()

    async def _resync(self, data: dict[str, Any]) -> None:
        head = int(data.get("last_seq") or 0)
        event = Event("resync_required", data)
        if self._on_resync is not None:
            await _call(self._on_resync, event)  # events that arrive meanwhile wait
        await self._emit(event)
        self.store.set(head)
        self.head = head
        self._progress.set()

    async def _private(self, name: str, data: dict[str, Any]) -> None:
        seq = data.get("seq")
        if not isinstance(seq, int):
            return
        last = self.store.get()
        if last is not None and seq <= last:
            self.duplicates += 1  # a replay overlapping a live copy: already handled
            return
        replayed = seq <= self.head
        if replayed:
            self.replayed.append(seq)
        await self._emit(Event(name, data, replayed))
        self.store.set(seq)
        self._progress.set()

    async def _emit(self, event: Event) -> None:
        for handler in (*self._handlers.get(event.name, ()), *self._handlers.get("*", ())):
            await _call(handler, event)
        for names, queue in self._listeners:
            if not names or event.name in names:
                queue.put_nowait(event)

    def _set_state(self, state: str, detail: str) -> None:
        self.state = state
        for handler in self._state_handlers:
            result = handler(state, detail)
            if inspect.isawaitable(result):
                self._start(result)

    async def _notify_state(self, state: str, detail: str) -> None:
        self.state = state
        for handler in self._state_handlers:
            await _call(handler, state, detail)


async def _call(fn: Callable[..., Any], *args: Any) -> None:
    result = fn(*args)
    if inspect.isawaitable(result):
        await result
