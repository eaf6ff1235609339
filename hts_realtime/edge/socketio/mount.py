"""The Socket.IO server of an edge, and its route at ``/socket.io/``."""

from __future__ import annotations

from aiohttp import web

from hts_realtime.edge.admin_tap import AdminTap
from hts_realtime.edge.outbox import OutboxFlusher, OutboxLimits
from hts_realtime.edge.sessions import SessionRegistry
from hts_realtime.edge.socketio.admin import AdminUI
from hts_realtime.edge.socketio.contracts import SendOptions
from hts_realtime.edge.socketio.hooks import WireGuard
from hts_realtime.edge.socketio.route import SocketIORoute, engineio_buffer_size
from hts_realtime.edge.socketio.servers import SendPathSocketIO
from hts_realtime.settings import Settings


def socketio_server(settings: Settings, limits: OutboxLimits, flusher: OutboxFlusher,
                    tap: AdminTap | None = None) -> SendPathSocketIO:
    """The Socket.IO server on our send path, with its outbox bounds (and, with the
    Admin UI on, the tap its outboxes report to)."""
    return SendPathSocketIO(
        SendOptions(limits=limits, high_water=settings.send_high_water_bytes,
                    socket_send_buffer=settings.socket_send_buffer_bytes, flusher=flusher,
                    tap=tap),
        async_mode="aiohttp",
        cors_allowed_origins=list(settings.cors_origins) or None,
        max_http_buffer_size=engineio_buffer_size(settings),
        ping_interval=settings.ping_interval_seconds,
        ping_timeout=settings.ping_timeout_seconds,
        logger=False,
        engineio_logger=False,
    )


def socketio_routes(wire: WireGuard, settings: Settings) -> list[web.RouteDef]:
    """``/socket.io/`` through the wire guard (what ``sio.attach`` would route)."""
    return SocketIORoute(wire, settings).routes()


def admin_ui(settings: Settings, sio: SendPathSocketIO, tap: AdminTap,
             registry: SessionRegistry) -> AdminUI:
    """The Socket.IO Admin UI on ``/admin`` (``HTS_ADMIN_UI``), after the framing's
    handlers are registered."""
    return AdminUI(sio, tap, registry, username=settings.admin_ui_username,
                   password=settings.admin_ui_password, mode=settings.admin_ui_mode)
