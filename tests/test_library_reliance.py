"""What hts-realtime relies on inside python-socketio / python-engineio.

If an upgrade changes any of these, this fails loudly before anything subtle
breaks in production. Each test names the place in our code that relies on it.
"""

from __future__ import annotations

import inspect

import engineio
import socketio

from hts_realtime.edge.socketio.adapter import (
    EngineIOConnection,
    SendOptions,
    SendPathEngineIO,
    SendPathSocketIO,
)
from hts_realtime.edge.socketio.framing import Refused
from hts_realtime.protocol.errors import AuthFailed


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


def test_engineio_server_exposes_sockets() -> None:
    # socketio.adapter.SendPathSocketIO: sio.eio is our server class, sockets by eio sid
    sio = SendPathSocketIO(SendOptions(), async_mode="aiohttp")
    assert isinstance(sio.eio, SendPathEngineIO) and isinstance(sio.eio, engineio.AsyncServer)
    assert sio.eio.sockets == {}
    assert sio.eio.send_options.limits.max_bytes > 0


def test_catch_all_handler_receives_the_event_name() -> None:
    # gateway.on_unknown is registered with sio.on("*")
    src = inspect.getsource(socketio.base_server.BaseServer._get_event_handler)
    assert "'*'" in src




# -- edge.socketio.adapter: the wire guard ------------------------------------------

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


def test_engineio_socket_close_for_a_kick() -> None:
    # WireGuard.kick waits on the socket's outbox (EngineIOConnection), then
    # socket.close(wait=False, abort=False): CLOSE, the disconnect event, the transport ends;
    # a polling body of more packets than the library decodes is refused first
    assert "max_decode_packets = 16" in inspect.getsource(engineio.payload.Payload)
    assert "wait" in inspect.signature(EngineIOConnection.close).parameters


# -- the send path (engineio_adapter, issue 9) ------------------------------------------
def _src(obj: object) -> str:
    return inspect.getsource(obj)  # type: ignore[arg-type]


def _params(fn: object) -> list[tuple[str, object]]:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    return [(p.name, p.default) for p in sig.parameters.values()]


def test_socketio_builds_its_engineio_server_from_the_class_hook() -> None:
    # SendPathSocketIO._engineio_server_class swaps in our Engine.IO server
    assert "self.eio = self._engineio_server_class()(**engineio_options)" in _src(
        socketio.base_server.BaseServer.__init__)


def test_our_handshake_is_the_library_handshake_with_our_socket() -> None:
    # SendPathEngineIO._handle_connect is a copy of the library's with EngineIOConnection;
    # if the library's handshake changes, re-copy it
    src = _src(engineio.AsyncServer._handle_connect)
    for line in ("s = async_socket.AsyncSocket(self, sid)", "packet.OPEN, {",
                 "'pingInterval': int(", "await self._trigger_event('connect', sid, environ,",
                 "s.schedule_ping()", "ret = await s.handle_get_request(environ)",
                 "s.connected = True", "return self._ok(await s.poll(), headers=headers,"):
        assert line in src, line
    assert _params(engineio.AsyncServer._handle_connect) == _params(
        SendPathEngineIO._handle_connect)


def test_socket_methods_we_override_keep_their_contract() -> None:
    base = engineio.async_socket.AsyncSocket
    for name in ("send", "poll", "close", "schedule_ping", "_websocket_handler"):
        assert _params(getattr(base, name)) == _params(getattr(EngineIOConnection, name)), name
    # the socket's users go through the methods we override
    assert "await self.poll()" in _src(base.handle_get_request)
    assert "_upgrade_' + transport" in _src(base.handle_get_request)
    assert "self.upgrading or self.upgraded" in _src(base.handle_get_request)
    assert "self.schedule_ping()" in _src(base.receive)
    assert "await self.send(packet.Packet(packet.NOOP))" in _src(base.receive)
    assert "await self.close(wait=False, abort=False" in _src(base.check_ping_timeout)
    # the base constructor state we read and write
    assert "self.queue = self.server.create_queue()" in _src(engineio.base_socket.BaseSocket)
    for attr in ("last_ping", "connected", "upgrading", "upgraded", "closing", "closed"):
        assert f"self.{attr} =" in _src(engineio.base_socket.BaseSocket), attr


def test_every_packet_the_libraries_send_goes_through_socket_send() -> None:
    # OPEN, CONNECT, ACK, CONNECT_ERROR, DISCONNECT all reach EngineIOConnection.send
    assert "await socket.send(pkt)" in _src(engineio.AsyncServer.send_packet)
    assert "await self.send_packet(sid, packet.Packet(packet.MESSAGE, data=data))" in _src(
        engineio.AsyncServer.send)
    assert "await self.eio.send(eio_sid, encoded_packet)" in _src(
        socketio.AsyncServer._send_packet)


def test_aiohttp_websocket_wrapper_exposes_the_response_and_environ() -> None:
    # EngineIOConnection._websocket_handler reads ws._sock and ws.environ["aiohttp.request"]
    from engineio.async_drivers import aiohttp as eio_aiohttp
    call = _src(eio_aiohttp.WebSocket.__call__)
    assert "self._sock = WebSocketResponse(" in call
    assert call.index("self.environ = environ") < call.index("await self.handler(self)")
    assert "'aiohttp.request': request" in _src(eio_aiohttp.translate_request)


def test_polling_responses_encode_packet_objects() -> None:
    # EngineIOPollingFraming hands engineio Packets to the library's _ok
    from engineio import packet, payload
    body = payload.Payload(packets=[packet.Packet(packet.MESSAGE, data='2["x",{}]')]).encode()
    assert body == '42["x",{}]'


def test_manager_maps_socketio_sids_to_engineio_sids() -> None:
    # SendPathSocketIO.connection_of / is_connected
    m = socketio.AsyncManager()
    assert callable(m.eio_sid_from_sid) and callable(m.is_connected)
