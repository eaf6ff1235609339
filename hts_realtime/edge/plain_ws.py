"""The plain-WebSocket framing of the protocol, at ``GET /api/ws`` (the seed's own).

Every frame is one JSON object with a ``"type"``: a client message is
``{"type": event, ...payload, "request_id"?}``; a server message is the
same payload a Socket.IO client gets for that event. ``RequestCore`` does
all the work and ``Fanout`` all the sending (``WsConnection`` is an outbox
``Connection``); this module only reads frames, frames messages, and closes.

Authentication: ``?token=``, ``Authorization: Bearer``, or a first message
``{"type":"auth","token","topics"?,"last_seq"?,"batch"?}`` within
``connect_timeout_seconds`` (Socket.IO's CONNECT deadline); the query may
carry ``topics`` (comma-separated), ``last_seq`` and ``batch`` as Socket.IO's
handshake ``auth`` does. A refusal sends an ``error`` frame, then closes
with ``4000 + HTTP status`` of the error and the error code as the close
reason (``error_close``).

The wire guard's policies apply here as they do to Engine.IO sessions, with
the same objects: the per-address limits (one count for both framings,
refused with HTTP 429 before the upgrade), the per-connection budget of
refused requests (a flooder is closed ``rate_limited``) and the
process-wide budget of bad-input log lines. The server pings every
``ws_heartbeat_seconds`` and drops a peer that does not answer within half
of that (aiohttp's heartbeat).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import socket
from collections import Counter
from typing import Any

from aiohttp import WSMsgType, web

from hts_realtime.edge.core import Admission, RequestCore
from hts_realtime.edge.fanout import PLAIN_TEXT, Fanout, encode
from hts_realtime.edge.outbox import Outbox, websocket_frame
from hts_realtime.edge.wire_policy import WirePolicy
from hts_realtime.ops.error_log import INTERNAL_ERRORS
from hts_realtime.protocol import strict_json
from hts_realtime.protocol.errors import (
    AuthRequired,
    Forbidden,
    HtsError,
    InternalError,
    InvalidMessage,
    RateLimited,
    SlowConsumer,
)
from hts_realtime.settings import Settings

log = logging.getLogger("hts.ws")

TRANSPORT = "websocket"
MAX_REQUEST_ID = 128
QUERY_FLAGS = {"true": True, "1": True, "false": False, "0": False}
CLOSE_TIMEOUT = 2.0  # how long a close may wait on a peer that does not read
_CLOSING: set[asyncio.Task[None]] = set()  # closes under way (a task needs a reference)


def error_close(error: HtsError) -> tuple[int, bytes]:
    """The close code and reason for ``error``: ``4000 + http_status``, the code."""
    return 4000 + error.http_status, error.code.encode()


class WsConnection:
    """One plain-WebSocket connection as the send path's ``Connection``.

    Its ``Outbox`` (made by ``Fanout.attach``) is the one every Socket.IO
    connection has: the same conflation of market data, the same bounds on
    what waits (``outbox_max_bytes``, ``outbox_max_age_seconds``, then
    ``slow_consumer``), the same replay pacing. This class only frames: each
    message is its payload's JSON as one text frame (built once per message,
    whatever the number of recipients), written straight to the transport
    while its buffer is under ``send_high_water_bytes``.
    """

    framing = PLAIN_TEXT

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, sid: str,
                 high_water: int, policy: WirePolicy, socket_send_buffer: int = 0) -> None:
        self.ws = ws
        self.sid = sid
        self.address = request.remote or ""
        self.label = f"sid={sid} addr={self.address}"
        self.policy = policy
        self.strikes = policy.strike_budget()  # refused requests it may still send
        self.bad: Counter[str] = Counter()
        self.high_water = high_water
        # kept from the start: aiohttp drops the request's reference while closing, and a
        # close that cannot flush to a peer that does not read must still end the socket
        self.transport = request.transport
        self.outbox: Outbox | None = None
        self._closing = False  # a close is on its way: refused requests get no reply
        self._closed = False
        if socket_send_buffer and self.transport is not None:
            raw = self.transport.get_extra_info("socket")
            if raw is not None:
                with contextlib.suppress(OSError):
                    raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, socket_send_buffer)

    @property
    def closing(self) -> bool:
        return self._closing

    def closing_soon(self) -> None:
        self._closing = True

    def cut(self, error: HtsError, why: str) -> None:
        """The wire policy's verdict (a flooder): close with ``error``, reply no more."""
        self.policy.disconnected[why] += 1
        self.closing_soon()
        task = asyncio.get_running_loop().create_task(self.close(error))
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)

    # -- the outbox's Connection --------------------------------------------------------
    def write(self, frames: list[Any]) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        # whole frames (PLAIN_TEXT renders each message's frame once), one transport.write:
        # aiohttp's own frames (pings, the close) are whole writes too, never inside one
        t.write(frames[0] if len(frames) == 1 else b"".join(frames))

    def writable(self) -> bool:
        t = self.transport
        return t is not None and not t.is_closing() and t.get_write_buffer_size() < self.high_water

    def disconnect(self, reason: str) -> None:
        """The outbox overflowed (``slow_consumer``): what waited is already dropped."""
        if self._closed:
            return
        self._closed = self._closing = True
        self._goodbye(SlowConsumer("the client does not read fast enough; resume with "
                                   "last_seq"), None)

    # -- closing --------------------------------------------------------------------------
    async def close(self, error: HtsError | None, code: int | None = None) -> None:
        """What waits goes out first, then ``error`` (if any) and the close
        (``error_close``); a peer that does not read is cut off."""
        if self._closed:
            return
        self._closed = self._closing = True
        outbox = self.outbox
        if outbox is not None:
            if not outbox.closed and not outbox.empty:
                await outbox.drained(CLOSE_TIMEOUT)
            outbox.discard()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if not self.writable():  # it is not reading: the goodbye waits behind its backlog
            self._goodbye(error, code)
            return
        close_code, reason = error_close(error) if error is not None else (code or 1000, b"")
        if error is not None:
            self.write([websocket_frame(
                encode({"type": "error", "event": None, **error.to_dict()}).encode())])
        with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
            async with asyncio.timeout(CLOSE_TIMEOUT):  # the peer's close frame, or not
                await self.ws.close(code=close_code, message=reason)
        if not self.ws.closed or transport.get_write_buffer_size():
            transport.abort()

    def _goodbye(self, error: HtsError | None, code: int | None) -> None:
        """Queue the error and the close frame behind what the peer has not read yet,
        close, and cut the connection if it has not taken them in time."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        close_code, reason = error_close(error) if error is not None else (code or 1000, b"")
        frames = b""
        if error is not None:
            text = encode({"type": "error", "event": None, **error.to_dict()}).encode()
            frames += websocket_frame(text)
        frames += websocket_frame(close_code.to_bytes(2, "big") + reason, 0x8)
        transport.write(frames)
        transport.close()  # flushes what the peer will still read, then FIN
        asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, transport.abort)


class PlainWebSocket:
    def __init__(self, core: RequestCore, fanout: Fanout, settings: Settings,
                 policy: WirePolicy) -> None:
        self.core = core
        self.fanout = fanout
        self.settings = settings
        self.policy = policy
        self._open: dict[str, WsConnection] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/ws", self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        address = request.remote or ""
        wait = self.policy.admit(address)
        if wait is not None:  # the same per-address budget as Engine.IO sessions
            error = RateLimited("too many connections from this address; retry later")
            return web.json_response({"error": error.to_dict()}, status=error.http_status,
                                     headers={"Retry-After": str(max(1, round(wait)))})
        try:
            origin = refused_origin(request, self.settings.cors_origins)
            if origin is not None:  # Engine.IO's handshake refuses it too (one policy)
                refusal = Forbidden(f"origin {origin[:100]!r} is not accepted "
                                    "(HTS_CORS_ORIGINS)")
                self.core.metrics.request_error(TRANSPORT, refusal.code)
                return web.json_response({"error": refusal.to_dict()},
                                         status=refusal.http_status)
            return await self._handle(request)
        finally:
            self.policy.release(address)

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            heartbeat=self.settings.ws_heartbeat_seconds,
            # aiohttp refuses a message of exactly max_msg_size: the documented maximum
            # (HTS_MAX_PAYLOAD_BYTES) is accepted, one byte more is 1009
            max_msg_size=self.settings.max_payload_bytes + 1,
            compress=self.settings.ws_compression,
            timeout=CLOSE_TIMEOUT,
        )
        await ws.prepare(request)
        sid = "ws-" + secrets.token_urlsafe(15)
        conn = WsConnection(ws, request, sid, self.settings.send_high_water_bytes,
                            self.policy, self.settings.socket_send_buffer_bytes)
        # upgraded: from here an exception must not reach aiohttp, which would write an
        # HTTP 500 into the websocket and log a traceback per connection
        try:
            await self._serve_upgraded(request, ws, sid, conn)
        except Exception:
            INTERNAL_ERRORS.report(log, "sid=%s failed", sid)
            self.core.metrics.request_error(TRANSPORT, InternalError.code)
            await conn.close(InternalError("the server failed; reconnect"))
        return ws

    async def _serve_upgraded(self, request: web.Request, ws: web.WebSocketResponse, sid: str,
                              conn: WsConnection) -> None:
        try:
            admission = await self._admit(request, ws)
        except HtsError as exc:
            log.info("sid=%s refused: %s", sid, exc.code)
            await conn.close(exc)
            return
        if admission is None:  # the client left before authenticating
            return
        self._open[sid] = conn
        conn.outbox = self.fanout.attach(sid, conn)
        session = self.core.register(sid, admission, TRANSPORT,
                                     functools.partial(self.policy.strike, conn))
        reason = "client closed"
        try:
            await self.core.open(session, admission)
            reason = await self._serve(sid, ws)
        finally:
            self.core.disconnect(sid, reason)
            self.fanout.detach(sid)
            self._open.pop(sid, None)
            self.policy.ended(conn, reason)
        return

    async def _admit(self, request: web.Request, ws: web.WebSocketResponse) -> Admission | None:
        token = request.query.get("token") or _bearer(request)
        auth: dict[str, Any] = {}
        if "topics" in request.query:  # ?topics=price:005930,order:* (names have no commas)
            auth["topics"] = [t for raw in request.query.getall("topics")
                              for t in raw.split(",") if t]
        if "batch" in request.query:  # ?batch=true: one price_batch per tick
            flag = QUERY_FLAGS.get(request.query["batch"])
            if flag is None:
                raise InvalidMessage("batch must be true or false (or 1 or 0)")
            auth["batch"] = flag
        if "last_seq" in request.query:
            try:
                auth["last_seq"] = int(request.query["last_seq"])
            except ValueError:
                raise InvalidMessage("last_seq must be an integer") from None
        if token:
            return await self.core.admit(TRANSPORT, auth, token)
        try:
            async with asyncio.timeout(self.settings.connect_timeout_seconds):
                msg = await ws.receive()
        except TimeoutError:
            raise AuthRequired("no token: send ?token=, an Authorization header, or "
                               "{\"type\":\"auth\",\"token\":...} first") from None
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return None
        data: Any = None
        if msg.type is WSMsgType.TEXT:
            try:
                data = strict_json.loads(msg.data)
            except strict_json.JsonRefused as exc:  # not JSON at all: not an auth message
                if exc.reason != strict_json.NOT_JSON:
                    raise InvalidMessage(f"the auth message is not strict JSON: {exc.reason}") \
                        from None
        if not isinstance(data, dict) or data.get("type") != "auth":
            raise AuthRequired("the first message must be {\"type\":\"auth\",\"token\":...}")
        return await self.core.admit(TRANSPORT, {**auth, **data})

    async def _serve(self, sid: str, ws: web.WebSocketResponse) -> str:
        """Answer messages until the connection ends; returns why it ended."""
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await self._on_text(sid, msg.data)
            elif msg.type is WSMsgType.BINARY:
                await self.core.dispatch(sid, None, None, malformed=InvalidMessage(
                    "binary frames are not supported: send JSON text"))
            elif msg.type is WSMsgType.ERROR:
                return f"error: {ws.exception()}"
        return f"closed code={ws.close_code}"

    async def _on_text(self, sid: str, text: str) -> None:
        try:
            data = strict_json.loads(text)
        except strict_json.JsonRefused as exc:
            problem = ("Invalid JSON format" if exc.reason == strict_json.NOT_JSON  # the seed's
                       else f"not strict JSON: {exc.reason}")
            await self.core.dispatch(sid, None, None, malformed=InvalidMessage(problem))
            return
        if not isinstance(data, dict):
            await self.core.dispatch(sid, None, None, malformed=InvalidMessage(
                "a message is a JSON object with a \"type\""))
            return
        rid = data.pop("request_id", None)
        echo = {"request_id": rid} if rid is not None else None
        event = data.get("type")
        malformed: HtsError | None = None
        if rid is not None and not _valid_request_id(rid):
            echo, malformed = None, InvalidMessage(
                f"request_id must be a string of at most {MAX_REQUEST_ID} characters "
                "or an integer")
        elif not isinstance(event, str):
            malformed = InvalidMessage("a message needs a string \"type\"")
        elif event == "auth":
            malformed = InvalidMessage("already authenticated")
        name = event[:64] if isinstance(event, str) else None
        await self.core.dispatch(sid, name, data, echo, malformed)

    async def close_all(self, code: int = 1001) -> None:
        """On shutdown: close every plain-WebSocket connection (1001, going away)."""
        conns = list(self._open.values())
        await asyncio.gather(*(c.close(None, code) for c in conns), return_exceptions=True)


def refused_origin(request: web.Request, allowed: tuple[str, ...]) -> str | None:
    """The browser ``Origin`` this upgrade is refused for, or None: the policy of
    Engine.IO's handshake (``HTS_CORS_ORIGINS``), so both framings agree. No
    ``Origin`` (not a browser: the seed's clients, OkHttp, websocat) is allowed; ``*``
    allows every origin; an empty setting allows the server's own origin only (the
    ``Host`` the request came to, with ``X-Forwarded-Proto``/``X-Forwarded-Host``)."""
    origin = request.headers.get("Origin")
    if not origin or "*" in allowed:
        return None
    if allowed:
        return None if origin in allowed else origin
    host = request.headers.get("Host", "")
    own = {f"{request.scheme}://{host}"}
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
    fwd_host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
    if proto or fwd_host:
        own.add(f"{proto or request.scheme}://{fwd_host or host}")
    return None if origin in own else origin


def _valid_request_id(rid: object) -> bool:
    if isinstance(rid, str):
        return len(rid) <= MAX_REQUEST_ID
    return isinstance(rid, int) and not isinstance(rid, bool)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        return header[7:].strip()
    return None
