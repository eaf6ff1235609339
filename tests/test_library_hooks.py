"""What the wire guard relies on inside python-engineio / python-socketio (and aiohttp).

The guard sits at the Engine.IO/Socket.IO boundary (``edge/socketio/``'s
README lists each hook). These tests drive it through raw frames on a real
loopback server, and where the guard exists because of a library behaviour,
they also show that behaviour on the library alone: if an upgrade changes it,
the test fails and says which guard to revisit. ``tests/hostile/`` holds the
end-to-end attacks against the whole server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import engineio
import pytest
import socketio
from aiohttp import web

from hts_realtime.edge.outbox import Message
from hts_realtime.edge.socketio.contracts import SendOptions
from hts_realtime.edge.socketio.hooks import WireGuard
from hts_realtime.edge.socketio.packets import ReservedEvent
from hts_realtime.edge.socketio.route import SocketIORoute, engineio_buffer_size
from hts_realtime.edge.socketio.servers import SendPathSocketIO
from hts_realtime.edge.wire_policy import WirePolicy
from hts_realtime.settings import Secret, Settings
from tests.seam import RawWs, Site, until

SETTINGS = Settings(jwt_secret=Secret("s" * 40), max_payload_bytes=1000,
                    connect_timeout_seconds=0.5, request_read_timeout_seconds=1.0,
                    ping_interval_seconds=5, ping_timeout_seconds=5)
LIMIT = SETTINGS.max_payload_bytes  # a Socket.IO packet of this many bytes is accepted


class Guarded:
    """``SendPathSocketIO`` behind the wire guard, as ``build_edge`` composes it; with
    ``library=True``, python-socketio's own server instead, with nothing in front."""

    def __init__(self, library: bool = False) -> None:
        options: dict[str, Any] = {
            "async_mode": "aiohttp", "logger": False, "engineio_logger": False,
            "max_http_buffer_size": engineio_buffer_size(SETTINGS),
            "ping_interval": SETTINGS.ping_interval_seconds,
            "ping_timeout": SETTINGS.ping_timeout_seconds}
        self.sio = socketio.AsyncServer(**options) if library \
            else SendPathSocketIO(SendOptions(), **options)
        self.connects: list[tuple[str, dict[str, Any], Any]] = []
        self.events: list[tuple[Any, ...]] = []
        self.sio.on("connect", self.on_connect)
        self.sio.on("*", self.on_any)
        self.sio.on("connect", self.on_connect, namespace="/ns")
        app = web.Application(middlewares=[_test_remote])
        self.site = Site(app)
        if library:
            self.sio.attach(app)
        else:
            self.guard = WireGuard(self.sio, WirePolicy(SETTINGS), self._send)
            app.add_routes(SocketIORoute(self.guard, SETTINGS).routes())

    async def _send(self, sid: str, event: str, payload: dict[str, Any]) -> None:
        outbox = self.sio.outbox_of(sid)
        if outbox is not None:
            outbox.send(Message(event, payload))

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        self.connects.append((sid, environ, auth))

    async def on_any(self, event: Any, sid: str, *args: Any) -> dict[str, Any]:
        self.events.append((event, sid, *args))
        return {"refused": str(event)}


@web.middleware
async def _test_remote(request: web.Request,
                       handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                       ) -> web.StreamResponse:
    # what forwarded_middleware does behind a trusted proxy: the client's address
    remote = request.headers.get("X-Test-Remote")
    return await handler(request.clone(remote=remote) if remote else request)


@pytest.fixture(scope="module")
async def srv() -> AsyncIterator[Guarded]:
    s = Guarded()
    await s.site.start()
    yield s
    await s.sio.end_all_transports()
    await s.site.close()


async def _connected(url: str) -> RawWs:
    ws = await RawWs.open(url)
    await ws.send("40")
    await ws.recv_until("40{")
    return ws


# -- reserved event names -------------------------------------------------------------
async def test_python_socketio_dispatches_an_event_named_connect_to_the_connect_handler() -> None:
    # why the guard renames reserved events: without it, a client EVENT "connect"
    # reaches the real connect handler (the audit's second handshake). If this fails,
    # python-socketio refuses reserved names itself and the renaming can go.
    s = Guarded(library=True)
    await s.site.start()
    try:
        ws = await _connected(s.site.url)
        await ws.send('42["connect",{"token":"forged"}]')
        assert await until(lambda: len(s.connects) == 2)
        assert s.connects[1][1] == {"token": "forged"}  # the payload, as `environ`
        await ws.close()
    finally:
        await s.sio.shutdown()
        await s.site.close()


async def test_reserved_names_reach_the_catch_all_marked(srv: Guarded) -> None:
    ws = await _connected(srv.site.url)
    before = len(srv.connects)
    for i, name in enumerate(["connect", "disconnect", "connect_error", "*"], start=1):
        await ws.send(f'42{i}["{name}",{{}}]')
        frames = await ws.recv_until(f"43{i}")
        assert json.loads(frames[-1][len(f"43{i}"):]) == [{"refused": name}]
        event = srv.events[-1][0]
        assert isinstance(event, ReservedEvent) and str(event) == name
    assert len(srv.connects) == before
    await ws.send('425["not_reserved",{}]')
    await ws.recv_until("435")
    assert srv.events[-1][0] == "not_reserved" and not isinstance(srv.events[-1][0],
                                                                   ReservedEvent)
    await ws.close()


# -- binary ---------------------------------------------------------------------------
async def test_binary_packets_are_refused_before_the_library_waits_for_attachments(
        srv: Guarded) -> None:
    ws = await _connected(srv.site.url)
    await ws.send('451-["x",{"_placeholder":true,"num":0}]')
    frames = await ws.recv_until("1")  # error, Socket.IO DISCONNECT, Engine.IO CLOSE
    assert any('"binary payloads are not accepted"' in f for f in frames), frames
    assert "41" in frames
    await ws.close()


# -- Engine.IO frames and sizes -------------------------------------------------------
async def test_an_undecodable_engineio_frame_ends_the_session_at_once(srv: Guarded) -> None:
    ws = await _connected(srv.site.url)
    sid = ws.opened["sid"]
    await ws.send("x-not-an-engineio-packet")
    while await ws.recv(timeout=3) is not None:
        pass
    assert await until(lambda: sid not in srv.sio.eio.sockets, timeout=2)
    await ws.close()


async def test_aiohttp_refuses_a_message_of_exactly_max_msg_size() -> None:
    # why the guard's websocket takes max_payload_bytes + 1 (+ Engine.IO's one byte)
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=100)
        await ws.prepare(request)
        async for msg in ws:
            await ws.send_str(f"got {len(msg.data)}")
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    site = await Site(app).start()
    try:
        async with aiohttp.ClientSession() as http, \
                http.ws_connect(site.url.replace("http", "ws") + "/") as ws:
            await ws.send_str("x" * 99)
            assert (await ws.receive(timeout=5)).data == "got 99"
            await ws.send_str("x" * 100)
            msg = await ws.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1009, msg
    finally:
        await site.close()


async def test_a_message_of_the_documented_maximum_is_accepted_one_more_byte_is_not(
        srv: Guarded) -> None:
    ws = await _connected(srv.site.url)
    head = '21["big","'  # a Socket.IO EVENT with ack id 1, of LIMIT bytes in all
    fill = LIMIT - len(head) - len('"]')
    await ws.send("4" + head + "x" * fill + '"]')
    await ws.recv_until("431")
    await ws.send("4" + head.replace("1", "2", 1) + "x" * (fill + 1) + '"]')
    while await ws.recv(timeout=3) is not None:
        pass
    assert ws.ws.closed or ws.ws.close_code is not None
    await ws.close()


async def _polling_session(url: str, http: aiohttp.ClientSession,
                           path: str = "/socket.io/") -> str:
    async with http.get(url + path + "?EIO=4&transport=polling") as r:
        return str(json.loads((await r.text())[1:])["sid"])


async def test_the_library_decodes_at_most_16_packets_per_polling_body() -> None:
    # beyond that the library drops the whole body (and logs a traceback): the guard
    # refuses it with a 400 first (engineio.payload.Payload.max_decode_packets)
    eio = engineio.AsyncServer(async_mode="aiohttp", logger=False)
    got: list[str] = []
    eio.on("message", lambda sid, data: got.append(data))
    site = Site(web.Application())
    eio.attach(site.app)
    await site.start()
    try:
        async with aiohttp.ClientSession() as http:
            sid = await _polling_session(site.url, http, "/engine.io/")
            url = f"{site.url}/engine.io/?EIO=4&transport=polling&sid={sid}"
            for n in (16, 17):
                async with http.post(url, data="\x1e".join(["4m"] * n)) as r:
                    assert r.status == 200
            await asyncio.sleep(0.1)
            assert len(got) == 16
    finally:
        await eio.shutdown()
        await site.close()


async def test_polling_bodies_are_bounded_before_the_library_reads_them(srv: Guarded) -> None:
    async with aiohttp.ClientSession() as http:
        sid = await _polling_session(srv.site.url, http)
        url = f"{srv.site.url}/socket.io/?EIO=4&transport=polling&sid={sid}"
        async with http.post(url, data="40") as r:
            assert r.status == 200
        async with http.post(url, data="\x1e".join(['42["m",{}]'] * 16)) as r:
            assert r.status == 200
        assert await until(lambda: sum(e[0] == "m" for e in srv.events) >= 16)
        async with http.post(url, data="\x1e".join(["42[\"m\",{}]"] * 17)) as r:
            assert r.status == 400
            assert (await r.json())["error"]["code"] == "invalid_message"
        sid2 = await _polling_session(srv.site.url, http)
        url2 = f"{srv.site.url}/socket.io/?EIO=4&transport=polling&sid={sid2}"
        async with http.post(url2, data="4" + "x" * (LIMIT + 1)) as r:
            assert r.status == 413


# -- what the Engine.IO connect hook sees ---------------------------------------------
async def test_the_environ_carries_the_clients_address(srv: Guarded) -> None:
    # python-engineio's aiohttp driver puts 127.0.0.1 in REMOTE_ADDR whoever connects;
    # the guard's per-address limits, logs and the Admin UI need the client's
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(srv.site.url.replace("http", "ws")
                                   + "/socket.io/?EIO=4&transport=websocket",
                                   headers={"X-Test-Remote": "10.1.2.3"})
        await ws.receive(timeout=5)
        await ws.send_str("40")
        assert await until(lambda: any(e.get("REMOTE_ADDR") == "10.1.2.3"
                                       for _, e, _ in srv.connects))
        await ws.close()


async def test_a_session_that_never_connects_is_closed_at_the_deadline(srv: Guarded) -> None:
    ws = await RawWs.open(srv.site.url)
    frames = []
    while (frame := await ws.recv(timeout=5)) is not None:
        frames.append(frame)
    assert frames[-1:] == ["1"], frames  # closed with an Engine.IO CLOSE
    await ws.close()


# -- the hooks see everything, whatever else hooks the libraries ------------------------
async def test_the_guard_sees_every_session_whoever_holds_the_engineio_handlers() -> None:
    # sio.instrument() (the Admin UI) replaces python-socketio's Engine.IO connect and
    # disconnect handlers with its own: the guard, in front of python-engineio's event
    # dispatch, still sees every session open, and close (the address is released)
    s = Guarded()
    for event in ("connect", "disconnect"):
        s.sio.eio.on(event, _passing_on(s.sio.eio.handlers[event]))
    await s.site.start()
    try:
        ws = await _connected(s.site.url)
        assert ws.opened["sid"] in s.guard.conns and s.guard.conns[ws.opened["sid"]].connected
        assert s.guard.policy.addresses.open_count("127.0.0.1") == 1
        await ws.close()
        assert await until(lambda: not s.guard.conns)
        assert s.guard.policy.addresses.open_count("127.0.0.1") == 0
    finally:
        await s.sio.end_all_transports()
        await s.site.close()


def _passing_on(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapper(*args: Any) -> Any:
        return await handler(*args)

    return wrapper


async def test_one_connect_per_namespace(srv: Guarded) -> None:
    # a client may join several namespaces over one Engine.IO session (socket.io-client
    # multiplexes io(url) and io(url + "/admin")), each once
    ws = await _connected(srv.site.url)
    conn = srv.guard.conns[ws.opened["sid"]]
    await ws.send("40/nowhere,")  # no such namespace: refused, the session stays
    await ws.recv_until("44/nowhere,")
    await ws.send("40/ns,")
    await ws.recv_until("40/ns,{")
    assert conn.namespaces == {"/", "/ns"} and not conn.kicked
    await ws.send("40/ns,")  # a second CONNECT to a namespace: kicked
    frames = await ws.recv_until("1")
    assert "41" in frames and "41/ns," in frames, frames
    await ws.close()


async def test_a_session_connected_only_to_another_namespace_is_not_expired(
        srv: Guarded) -> None:
    ws = await RawWs.open(srv.site.url)
    conn = srv.guard.conns[ws.opened["sid"]]
    await ws.send("40/ns,")
    await ws.recv_until("40/ns,{")
    assert conn.connected and conn.deadline is None  # the CONNECT deadline is met
    await ws.close()
