"""What hts-realtime relies on inside python-socketio / python-engineio.

If an upgrade changes any of these, this fails loudly before anything subtle
breaks in production. Each test names the place in our code that relies on it.
"""

from __future__ import annotations

import inspect

import engineio
import socketio

from hts_realtime.errors import AuthFailed
from hts_realtime.transport.gateway import Refused


def test_refused_connect_data_is_error_args() -> None:
    # gateway.Refused: the server sends `error_args` as the CONNECT_ERROR data
    src = inspect.getsource(socketio.AsyncServer._handle_connect)
    assert "exc.error_args" in src and "packet.CONNECT_ERROR, data=fail_reason" in src
    r = Refused(AuthFailed("bad"))
    assert r.error_args["code"] == "auth_failed" and r.error_args["data"]["code"] == "auth_failed"


def test_connect_packet_follows_the_connect_handler() -> None:
    # gateway._open waits for manager.is_connected before sending `connected`
    src = inspect.getsource(socketio.AsyncServer._handle_connect)
    assert src.index("'connect', namespace, sid") < src.rindex("packet.CONNECT, {'sid': sid}")
    assert callable(socketio.AsyncManager().is_connected)


def test_engineio_server_exposes_sockets_and_disconnect_all() -> None:
    # app._close_clients: sio.eio.sockets and sio.eio.disconnect() with no sid
    sio = socketio.AsyncServer(async_mode="aiohttp")
    assert isinstance(sio.eio, engineio.AsyncServer)
    assert sio.eio.sockets == {}
    assert "sid" in inspect.signature(sio.eio.disconnect).parameters


def test_catch_all_handler_receives_the_event_name() -> None:
    # gateway.on_unknown is registered with sio.on("*")
    src = inspect.getsource(socketio.base_server.BaseServer._get_event_handler)
    assert "'*'" in src


def test_room_emit_encodes_once() -> None:
    # fanout.to_room relies on one encode per broadcast (no callback)
    src = inspect.getsource(socketio.AsyncManager.emit)
    assert "encoded_packet = pkt.encode()" in src


def test_abort_close_and_queue_wakeup_exist() -> None:
    # app._close_clients: socket.close(wait=False, abort=True) sends no CLOSE packet,
    # and a None in socket.queue wakes the writer so the transport ends
    src = inspect.getsource(engineio.async_socket.AsyncSocket.close)
    assert "if not abort:" in src and "packet.CLOSE" in src
    writer = inspect.getsource(engineio.async_socket.AsyncSocket._websocket_handler)
    assert "await self.queue.put(None)" in writer and "await ws.close()" in writer
