"""``/socket.io/``: the HTTP side of the wire guard, in front of python-engineio.

A handshake is admitted per client address (``WirePolicy``: concurrent
sessions and new sessions per second, one count with the plain WebSocket).
A polling POST body is read here, bounded in size and time, and its framing
checked, before the library sees it: python-engineio would wait for a
declared length however large, and log a traceback for a body it cannot
decode (or silently drop one of more packets than it decodes). The socket
hands the library the body read here (``POLLING_BODY``).
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from engineio import payload as eio_payload

from hts_realtime.edge.socketio.connection import EIO_SID, POLLING_BODY
from hts_realtime.edge.socketio.hooks import WireGuard
from hts_realtime.edge.wire_policy import BAD_ENGINEIO_FRAME, BINARY, excerpt
from hts_realtime.protocol.errors import HtsError, InvalidMessage, RateLimited
from hts_realtime.settings import Settings

# Engine.IO wraps a Socket.IO message in one packet-type character ("4"), so a
# message of max_payload_bytes travels as an Engine.IO packet one byte longer.
ENGINEIO_FRAMING = 1
_ENGINEIO_TYPES = frozenset("0123456")


def engineio_buffer_size(settings: Settings) -> int:
    """``max_http_buffer_size`` for python-engineio: the largest Engine.IO packet,
    websocket message or polling body, in bytes."""
    return settings.max_payload_bytes + ENGINEIO_FRAMING


class SocketIORoute:
    """The aiohttp handler of ``/socket.io/``: guards, then python-engineio."""

    def __init__(self, guard: WireGuard, settings: Settings) -> None:
        self.guard = guard
        self.sio = guard.sio
        self.policy = guard.policy
        self.settings = settings
        self.limit = engineio_buffer_size(settings)

    def routes(self) -> list[web.RouteDef]:
        return [web.route(method, "/socket.io/", self.handle)
                for method in ("GET", "POST", "OPTIONS")]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self.settings.ws_compression and "Sec-WebSocket-Extensions" in request.headers:
            # decline permessage-deflate (RFC 7692: drop the offer): aiohttp would accept
            # what socket.io-client and browsers offer, and each compressed connection
            # keeps its own zlib state, ~119 KiB per idle connection against ~28 KiB
            # without (bench idle_memory), for price updates that barely compress
            headers = request.headers.copy()
            del headers["Sec-WebSocket-Extensions"]
            request = request.clone(headers=headers)
        if request.method == "POST":
            refused = await self._read_polling_body(request)
            if refused is not None:
                return refused
        if request.method == "GET" and "sid" not in request.query:
            return await self._handshake(request)
        response: web.StreamResponse = await self.sio.handle_request(request)
        return response

    async def _handshake(self, request: web.Request) -> web.StreamResponse:
        address = request.remote or ""
        wait = self.policy.admit(address)
        if wait is not None:
            return _refuse(RateLimited("too many connections from this address; retry later"),
                           headers={"Retry-After": str(max(1, round(wait)))})
        try:
            response: web.StreamResponse = await self.sio.handle_request(request)
        finally:
            if EIO_SID not in request:  # no session was made: nothing will release it
                self.policy.release(address)
        return response

    async def _read_polling_body(self, request: web.Request) -> web.Response | None:
        eio_sid = request.query.get("sid", "")
        if request.content_length is not None and request.content_length > self.limit:
            return self._refuse_body(eio_sid, "payload_too_large", 413,
                                     f"declared {request.content_length} bytes")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.settings.request_read_timeout_seconds):
                while chunk := await request.content.read(self.limit + 1 - size):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > self.limit:
                        return self._refuse_body(eio_sid, "payload_too_large", 413,
                                                 f"more than {self.limit} bytes")
        except TimeoutError:
            return self._refuse_body(eio_sid, "read_timeout", 408, f"{size} bytes read")
        body = b"".join(chunks)
        request[POLLING_BODY] = body
        problem = _polling_problem(body)
        if problem is not None:
            return self._refuse_body(eio_sid, problem[0], 400, problem[1])
        return None

    def _refuse_body(self, eio_sid: str, why: str, status: int, detail: str) -> web.Response:
        self.policy.refused[why] += 1
        self.guard.refuse_body(eio_sid, why, detail)
        message = {
            413: f"a polling body may hold at most {self.limit} bytes",
            408: "the request body did not arrive in time",
        }.get(status, "undecodable polling body")
        return _refuse(InvalidMessage(message), status=status)


def _polling_problem(body: bytes) -> tuple[str, str] | None:
    """Why python-engineio could not decode this polling payload, if it could not."""
    if not body:
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return BAD_ENGINEIO_FRAME, "not UTF-8"
    packets = text.split("\x1e")
    # beyond this many the library drops the whole body, with a traceback in the log
    if len(packets) > eio_payload.Payload.max_decode_packets:
        return BAD_ENGINEIO_FRAME, f"{len(packets)} packets in one payload"
    for p in packets:
        if p[:1] == "b":
            return BINARY, excerpt(p)
        if p[:1] not in _ENGINEIO_TYPES:
            return BAD_ENGINEIO_FRAME, excerpt(p)
    return None


def _refuse(error: HtsError, status: int | None = None,
            headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": error.to_dict()}, status=status or error.http_status,
                             headers=headers)
