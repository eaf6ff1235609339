"""The Socket.IO server of an edge, and its route at ``/socket.io/``."""

from __future__ import annotations

from aiohttp import web

from hts_realtime.edge.outbox import OutboxFlusher, OutboxLimits
from hts_realtime.edge.socketio.adapter import WireGuard, engineio_buffer_size
from hts_realtime.edge.socketio.connection import SendOptions
from hts_realtime.edge.socketio.servers import SendPathSocketIO
from hts_realtime.settings import Settings


def socketio_server(settings: Settings, limits: OutboxLimits,
                    flusher: OutboxFlusher) -> SendPathSocketIO:
    """The Socket.IO server on our send path, with its outbox bounds."""
    return SendPathSocketIO(
        SendOptions(limits=limits, high_water=settings.send_high_water_bytes,
                    socket_send_buffer=settings.socket_send_buffer_bytes, flusher=flusher),
        async_mode="aiohttp",
        cors_allowed_origins=list(settings.cors_origins) or None,
        max_http_buffer_size=engineio_buffer_size(settings),
        ping_interval=settings.ping_interval_seconds,
        ping_timeout=settings.ping_timeout_seconds,
        logger=False,
        engineio_logger=False,
    )


def socketio_routes(wire: WireGuard, settings: Settings) -> list[web.RouteDef]:
    """Route ``/socket.io/`` to the Socket.IO server (what ``sio.attach`` does) through
    the wire guard, and decline permessage-deflate unless ``ws_compression`` is on.

    aiohttp accepts the compression socket.io-client and browsers offer, and
    each compressed connection then keeps its own zlib state: measured at
    ~119 KiB per idle connection against ~28 KiB without (bench idle_memory),
    for price updates of ~200 bytes that barely compress. Removing the offer
    from the upgrade request is how a server declines it (RFC 7692).
    """

    async def handle(request: web.Request) -> web.StreamResponse:
        if not settings.ws_compression and "Sec-WebSocket-Extensions" in request.headers:
            headers = request.headers.copy()
            del headers["Sec-WebSocket-Extensions"]
            request = request.clone(headers=headers)
        return await wire.handle(request)

    return [web.route(method, "/socket.io/", handle) for method in ("GET", "POST", "OPTIONS")]
