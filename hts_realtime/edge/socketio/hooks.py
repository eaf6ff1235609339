"""The wire guard at the Engine.IO/Socket.IO boundary (issue 8: hostile clients).

``SendPathEngineIO`` hands every Engine.IO event to ``WireGuard`` before the
libraries see it (``EngineIOHooks``): a session opening, each message, a
session closing, a frame that could not be decoded. Here, and only here, the
Socket.IO-specific rules live: binary attachments and a second CONNECT on a
namespace are refused (error, DISCONNECT, CLOSE), an undecodable Socket.IO
packet costs a strike, a session must CONNECT within
``connect_timeout_seconds``, and a refused one is closed if the client does
not close it. Reserved event names are marked on decode (``packets.py``).
What does not depend on the framing (per-address admission, the bad-input
budget and its log, the counters) is ``edge.wire_policy.WirePolicy``, shared
with the plain WebSocket; the HTTP side of ``/socket.io/`` is ``route.py``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hts_realtime.edge.socketio.connection import EIO_SID, EngineIOConnection
from hts_realtime.edge.socketio.contracts import Deliver
from hts_realtime.edge.socketio.packets import namespace_of
from hts_realtime.edge.socketio.servers import SendPathSocketIO
from hts_realtime.edge.wire_policy import (
    BAD_SOCKETIO_PACKET,
    BINARY,
    SECOND_CONNECT,
    TokenBucket,
    WirePolicy,
    excerpt,
)
from hts_realtime.protocol.errors import HtsError, InvalidMessage, RateLimited

log = logging.getLogger("hts.wire")

DRAIN_SECONDS = 1.0  # how long a kick waits for the client to read its last packets
# A refused client closes by itself; closing it from here at the same moment races
# python-engineio's client, whose connect() then hangs ~30 s (measured: 2 in 40 over
# websocket). So the server closes a refused session only if it is still open after this.
REFUSED_GRACE_SECONDS = 2.0
ABORT_GRACE_SECONDS = 2.0  # a kicked websocket that does not close is cut after this

SendError = Callable[[str, str, dict[str, Any]], Awaitable[None]]


@dataclass(eq=False)
class WireConn:
    """What the guard keeps per Engine.IO session (a few hundred bytes); the wire
    policy's ``Guarded`` connection."""

    eio_sid: str
    address: str
    strikes: TokenBucket
    kick: Callable[[WireConn, HtsError | None, str], None]  # the guard's way to close it
    bad: Counter[str] = field(default_factory=Counter)
    namespaces: set[str] = field(default_factory=set)  # CONNECTs accepted or under way
    connected: bool = False  # a Socket.IO CONNECT was accepted
    kicked: bool = False
    deadline: asyncio.TimerHandle | None = None

    @property
    def label(self) -> str:
        return f"eio={self.eio_sid} addr={self.address}"

    @property
    def closing(self) -> bool:
        return self.kicked

    def cut(self, error: HtsError, why: str) -> None:
        self.kick(self, error, why)


class WireGuard:
    """The Engine.IO hooks of one ``SendPathSocketIO``, and their counters."""

    def __init__(self, sio: SendPathSocketIO, policy: WirePolicy, send: SendError) -> None:
        self.sio = sio
        self.policy = policy
        self.settings = policy.settings
        self._send = send
        self.conns: dict[str, WireConn] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # every Engine.IO socket object still in memory, open or closed: a closed one
        # must not linger (see EngineIOConnection.close and the ping timer)
        self._in_memory: weakref.WeakSet[Any] = weakref.WeakSet()
        sio.eio.install_hooks(self)  # as python-socketio's handlers are installed: sio.on

    def sid_of(self, eio_sid: str, namespace: str = "/") -> str | None:
        """The Socket.IO sid of an Engine.IO session on ``namespace``, if connected."""
        sid: str | None = self.sio.manager.sid_from_eio_sid(eio_sid, namespace)
        return sid

    def conn_of(self, sid: str) -> WireConn | None:
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        return self.conns.get(eio_sid) if eio_sid else None

    # -- EngineIOHooks -------------------------------------------------------------------
    def opened(self, eio_sid: str, environ: dict[str, Any]) -> None:
        request = environ.get("aiohttp.request")
        address = ""
        if request is not None:
            request[EIO_SID] = eio_sid  # the route releases the address if no session is made
            # the aiohttp driver puts 127.0.0.1 here whoever connects; python-socketio keeps
            # this environ for the session (its handlers and the Admin UI read it)
            address = environ["REMOTE_ADDR"] = request.remote or ""
        conn = WireConn(eio_sid, address, self.policy.strike_budget(), self._kick_later)
        self.conns[eio_sid] = conn
        socket = self.sio.eio.sockets.get(eio_sid)
        if socket is not None:
            self._in_memory.add(socket)
        conn.deadline = asyncio.get_running_loop().call_later(
            self.settings.connect_timeout_seconds, self._expire, conn)

    async def message(self, eio_sid: str, data: str | bytes, deliver: Deliver) -> None:
        conn = self.conns.get(eio_sid)
        if conn is None or conn.kicked:
            return  # a session being closed: nothing it sends counts any more
        if not isinstance(data, str) or data[:1] in ("5", "6"):  # attachments, or their header
            self.policy.bad_log.note(conn.bad, conn.label, BINARY, excerpt(data))
            await self.kick(conn, InvalidMessage("binary payloads are not accepted"), BINARY)
            return
        namespace = namespace_of(data) if data[:1] == "0" else None
        if namespace is not None:
            if namespace in conn.namespaces:
                self.policy.bad_log.note(conn.bad, conn.label, SECOND_CONNECT, excerpt(data))
                await self.kick(conn, InvalidMessage("already connected"), SECOND_CONNECT)
                return
            conn.namespaces.add(namespace)
        try:
            await deliver(eio_sid, data)
        except Exception:  # the library could not decode or place the packet
            if namespace is not None:
                conn.namespaces.discard(namespace)
            self.policy.bad_log.note(conn.bad, conn.label, BAD_SOCKETIO_PACKET, excerpt(data))
            if not conn.strikes.take():
                await self.kick(conn, RateLimited("too much bad input; disconnecting"), "flood")
            return
        if namespace is not None:
            self._answered(conn, namespace)

    def _answered(self, conn: WireConn, namespace: str) -> None:
        """A CONNECT was accepted or refused (the CONNECT or CONNECT_ERROR is queued)."""
        if conn.deadline is not None:  # answered either way: the refusal grace takes over
            conn.deadline.cancel()
            conn.deadline = None
        if self.sid_of(conn.eio_sid, namespace) is not None:
            conn.connected = True
            return
        conn.namespaces.discard(namespace)
        if not conn.connected:  # close it unless the client does
            self._spawn(self._kick_unless_gone(conn, REFUSED_GRACE_SECONDS, "refused"))

    def closed(self, eio_sid: str, why: str) -> None:
        conn = self.conns.pop(eio_sid, None)
        if conn is not None:
            if conn.deadline is not None:
                conn.deadline.cancel()
            self.policy.release(conn.address)
            self.policy.ended(conn, why)

    def bad_frame(self, eio_sid: str, kind: str, data: object) -> None:
        """A websocket frame the socket could not take; its transport ends next."""
        conn = self.conns.get(eio_sid)
        if conn is not None and not conn.kicked:
            self.policy.bad_log.note(conn.bad, conn.label, kind, excerpt(data))
            self.policy.disconnected[kind] += 1

    # -- strikes from the request core ---------------------------------------------------
    def strike(self, sid: str, code: str, event: str) -> bool:
        """The request core refused a request of ``sid`` with ``code``: the wire policy's
        per-connection budget (``WirePolicy.strike``). False: the connection is being
        cut as a flooder (send no reply)."""
        conn = self.conn_of(sid)
        return True if conn is None else self.policy.strike(conn, code, event)

    def _kick_later(self, conn: WireConn, error: HtsError | None, why: str) -> None:
        self._spawn(self.kick(conn, error, why))

    def _expire(self, conn: WireConn) -> None:
        conn.deadline = None
        if not conn.connected and not conn.kicked and self.conns.get(conn.eio_sid) is conn:
            self._spawn(self.kick(conn, None, "connect_timeout"))

    # -- closing a connection ------------------------------------------------------------
    async def kick(self, conn: WireConn, error: HtsError | None, why: str) -> None:
        """Close one connection: an ``error`` event (if given), the Socket.IO DISCONNECT
        of each namespace (clients do not reconnect by themselves after it), then, once
        the client has read them (``DRAIN_SECONDS`` at most), the Engine.IO CLOSE. A
        websocket that is still open ``ABORT_GRACE_SECONDS`` later is cut."""
        if conn.kicked:
            return
        conn.kicked = True
        self.policy.disconnected[why] += 1
        log.info("%s disconnected: %s", conn.label, why)
        for namespace in sorted(conn.namespaces):  # "/" first: the error is on it
            sid = self.sid_of(conn.eio_sid, namespace)
            if sid is None:
                continue
            if error is not None and namespace == "/":
                await self._send(sid, "error", {"type": "error", "event": "", **error.to_dict()})
            await self.sio.disconnect(sid, namespace=namespace)
        socket = self.sio.eio.sockets.get(conn.eio_sid)
        if isinstance(socket, EngineIOConnection) and not socket.closed:
            # let the client read what is queued (connect_error, error, DISCONNECT) first:
            # a long-polling client would otherwise find its session gone (HTTP 400)
            await socket.outbox.drained(DRAIN_SECONDS)
        if socket is not None and not socket.closed:
            # CLOSE, the disconnect event, then the transport ends (or the held poll returns)
            await socket.close(wait=False, abort=False)
        if isinstance(socket, EngineIOConnection):
            asyncio.get_running_loop().call_later(ABORT_GRACE_SECONDS, socket.cut)

    async def _kick_unless_gone(self, conn: WireConn, delay: float, why: str) -> None:
        await asyncio.sleep(delay)
        if self.conns.get(conn.eio_sid) is conn:
            await self.kick(conn, None, why)

    def refuse_body(self, eio_sid: str, why: str, detail: str) -> None:
        """The route refused a polling body of this session: note it, and close it."""
        conn = self.conns.get(eio_sid)
        if conn is not None:
            self.policy.bad_log.note(conn.bad, conn.label, why, detail)
            self._spawn(self.kick(conn, None, why))
        else:
            self.policy.bad_log.note(Counter(), f"eio={excerpt(eio_sid)}", why, detail)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- reporting -----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What only Engine.IO has, beside ``WirePolicy.status`` (merged into it)."""
        return {"wire": {
            "engineio_sessions": len(self.conns),
            "sockets_in_memory": len(self._in_memory),  # closed ones included
        }}
