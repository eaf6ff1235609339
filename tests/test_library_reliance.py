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


# -- transport.engineio_adapter: the wire guard ------------------------------------------

def test_engineio_driver_table_and_websocket_wrapper() -> None:
    # WireGuard._install copies sio.eio._async and replaces translate_request/websocket;
    # GuardedWebSocket subclasses the aiohttp driver's WebSocket (handler, server) and is
    # built by the library as _async['websocket'](socket._websocket_handler, server)
    from engineio.async_drivers import aiohttp as driver

    sio = socketio.AsyncServer(async_mode="aiohttp")
    assert sio.eio._async is driver._async
    assert {"translate_request", "websocket"} <= set(sio.eio._async)
    assert list(inspect.signature(driver.WebSocket.__init__).parameters) == [
        "self", "handler", "server"]
    upgrade = inspect.getsource(engineio.async_socket.AsyncSocket._upgrade_websocket)
    assert "self.server._async['websocket'](" in upgrade and "self._websocket_handler" in upgrade
    # translate_request puts the aiohttp request in the environ, reads POST bodies from
    # wsgi.input with CONTENT_LENGTH
    assert "'aiohttp.request': request" in inspect.getsource(driver.translate_request)
    post = inspect.getsource(engineio.async_socket.AsyncSocket.handle_post_request)
    assert "environ['wsgi.input'].read(length)" in post and "CONTENT_LENGTH" in post


def test_websocket_frames_are_decoded_outside_the_error_handling() -> None:
    # GuardedWebSocket.wait refuses undecodable text frames itself: the library decodes
    # `packet.Packet(encoded_packet=p)` outside its try, and a raise there skipped the
    # close (a ghost session); an OSError from wait() ends the loop and closes properly
    src = inspect.getsource(engineio.async_socket.AsyncSocket._websocket_handler)
    assert "pkt = packet.Packet(encoded_packet=p)\n            try:" in src
    assert "except:\n                break" in src
    assert "await self.close(wait=False, abort=True" in src


def test_aiohttp_refuses_a_message_of_exactly_max_msg_size() -> None:
    # GuardedWebSocket passes limit + 1 as max_msg_size
    from aiohttp._websocket import reader_py

    assert "self._payload_bytes_to_read >= self._max_msg_size - partial_len" in \
        inspect.getsource(reader_py)


def test_engineio_handlers_and_socketio_dispatch_hooks() -> None:
    # WireGuard wraps eio.handlers['connect'|'message'|'disconnect'] (python-socketio's)
    # and sio._handle_event, which _handle_eio_message calls through self
    sio = socketio.AsyncServer(async_mode="aiohttp")
    assert sio.eio.handlers["message"] == sio._handle_eio_message
    assert sio.eio.handlers["connect"] == sio._handle_eio_connect
    assert sio.eio.handlers["disconnect"] == sio._handle_eio_disconnect
    msg = inspect.getsource(socketio.AsyncServer._handle_eio_message)
    assert "await self._handle_event(eio_sid, pkt.namespace, pkt.id," in msg
    assert "self._binary_packet[eio_sid] = pkt" in msg  # what refusing 5/6 packets prevents
    # a client EVENT named "connect" reaches the connect handler unless renamed
    assert socketio.base_server.BaseServer.reserved_events == ["connect", "disconnect"]
    assert "handler = self.handlers[namespace][event]" in inspect.getsource(
        socketio.base_server.BaseServer._get_event_handler)
    # sid <-> eio_sid on the manager
    assert callable(sio.manager.sid_from_eio_sid) and callable(sio.manager.eio_sid_from_sid)


def test_engineio_socket_close_and_queue_for_a_kick() -> None:
    # WireGuard.kick: socket.close(wait=False, abort=False) fires the disconnect event and
    # queues CLOSE; a None in socket.queue then ends the writer / the held long-poll
    close = inspect.getsource(engineio.async_socket.AsyncSocket.close)
    assert "'disconnect', self.sid" in close and "packet.Packet(packet.CLOSE)" in close
    poll = inspect.getsource(engineio.async_socket.AsyncSocket.poll)
    assert "if pkt is None:" in poll
    assert "max_decode_packets = 16" in inspect.getsource(engineio.payload.Payload)
