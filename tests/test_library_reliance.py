"""What the send path relies on inside python-engineio / python-socketio, as behaviour.

``hts_realtime/edge/socketio/README.md`` lists every reliance and names the
test here that guards it. Each test drives the library and our subclasses
through real clients or raw frames on a real loopback server, so an upgrade
that changes what we rely on fails here, loudly, before anything subtle
breaks in production. Nothing compares source text.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import engineio
import pytest
import socketio
from aiohttp import web

from hts_realtime.edge.outbox import Message
from hts_realtime.edge.socketio.connection import EngineIOConnection
from hts_realtime.edge.socketio.contracts import SendOptions
from hts_realtime.edge.socketio.framing import Refused
from hts_realtime.edge.socketio.servers import SendPathEngineIO, SendPathSocketIO
from hts_realtime.protocol.errors import AuthFailed
from tests.seam import RawWs, Site, until

# ping every second, a silent client is dropped ~2 s after its unanswered ping
ENGINEIO = {"async_mode": "aiohttp", "ping_interval": 1, "ping_timeout": 2,
            "max_http_buffer_size": 4096}


class Sio:
    """``SendPathSocketIO`` behind a real aiohttp server, with a few handlers."""

    def __init__(self) -> None:
        self.sio = SendPathSocketIO(SendOptions(), logger=False, engineio_logger=False, **ENGINEIO)
        self.connected_inside: list[bool] = []  # is_connected(sid) seen inside the handler
        self.waited: list[int] = []  # yields until is_connected(sid), from the handler's task
        self.unknown: list[tuple[Any, ...]] = []
        self.site = Site(web.Application())
        self.sio.attach(self.site.app)
        self.sio.on("connect", self.on_connect)
        self.sio.on("echo", self.on_echo)
        self.sio.on("*", self.on_any)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        if isinstance(auth, dict) and auth.get("refuse"):
            raise Refused(AuthFailed("refused by the test"))
        self.connected_inside.append(self.sio.is_connected(sid))
        asyncio.get_running_loop().create_task(self._hello(sid))

    async def _hello(self, sid: str) -> None:
        # what Gateway._open does: `connected` goes out once the CONNECT packet has
        n = 0
        while not self.sio.is_connected(sid) and n < 1000:
            n += 1
            await asyncio.sleep(0)
        self.waited.append(n)
        outbox = self.sio.outbox_of(sid)
        if outbox is not None:
            outbox.send(Message("hello", {"type": "hello"}))

    async def on_echo(self, sid: str, data: Any) -> Any:
        return {"echo": data}

    async def on_any(self, event: Any, sid: str, *args: Any) -> None:
        self.unknown.append((event, sid, *args))


@pytest.fixture(scope="module")
async def srv() -> AsyncIterator[Sio]:
    s = Sio()
    await s.site.start()
    yield s
    await s.sio.end_all_transports()
    await s.sio.shutdown()
    await s.site.close()


def _client() -> tuple[socketio.AsyncClient, list[tuple[str, Any]]]:
    client = socketio.AsyncClient(reconnection=False)
    got: list[tuple[str, Any]] = []

    async def on_any(event: str, *args: Any) -> None:
        got.append((event, args[0] if args else None))

    client.on("*", on_any)
    return client, got


# -- the Engine.IO handshake: our copy answers as the library does ------------------------
COOKIES: list[Any] = [None, "io", {"name": "hts_sid", "path": "/rt", "HttpOnly": True,
                                   "SameSite": "Strict", "Max-Age": lambda: "60"}]


async def _two_servers(cookie: Any, refuse: Any = None) -> tuple[Site, Site]:
    """The library's Engine.IO server and ours, configured alike."""
    sites = []
    for eio in (engineio.AsyncServer(cookie=cookie, **ENGINEIO),
                SendPathEngineIO(SendOptions(), cookie=cookie, **ENGINEIO)):
        if refuse is not None:
            eio.on("connect", lambda sid, environ: refuse)
        site = Site(web.Application())
        eio.attach(site.app)
        sites.append(await site.start())
    return sites[0], sites[1]


async def _polling_handshake(site: Site) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as http, \
            http.get(site.url + "/engine.io/?EIO=4&transport=polling") as r:
        body = await r.text()
        headers = {k: v for k, v in r.headers.items() if k not in ("Date", "Server")}
        if body.startswith("0{"):  # the session id differs: name it
            sid = json.loads(body[1:])["sid"]
            body = body.replace(sid, "<sid>")
            headers = {k: v.replace(sid, "<sid>") for k, v in headers.items()}
        return r.status, headers, body


@pytest.mark.parametrize("cookie", COOKIES, ids=["no-cookie", "cookie-name", "cookie-dict"])
async def test_our_handshake_answers_as_the_librarys(cookie: Any) -> None:
    # SendPathEngineIO._handle_connect is a copy of the library's with our socket class
    # (the library has no hook for it): the same OPEN packet, status and headers, the
    # sid cookie included, over polling and websocket. If this fails, re-copy it.
    library, ours = await _two_servers(cookie)
    try:
        theirs, mine = await _polling_handshake(library), await _polling_handshake(ours)
        assert mine == theirs
        assert theirs[0] == 200 and theirs[2].startswith("0{")
        if cookie is None:
            assert "Set-Cookie" not in mine[1]
        else:
            assert mine[1]["Set-Cookie"].startswith(
                ("hts_sid" if isinstance(cookie, dict) else cookie) + "=<sid>")
        opened = []
        for site in (library, ours):
            ws = await RawWs.open(site.url, "/engine.io/")
            opened.append({k: v for k, v in ws.opened.items() if k != "sid"})
            await ws.close()
        assert opened[0] == opened[1] and opened[1]["pingInterval"] == 1000
    finally:
        await library.close()
        await ours.close()


@pytest.mark.parametrize("refusal", [False, "go away"])
async def test_a_refused_handshake_answers_as_the_librarys(refusal: Any) -> None:
    library, ours = await _two_servers(None, refuse=refusal)
    try:
        theirs, mine = await _polling_handshake(library), await _polling_handshake(ours)
        assert mine == theirs and theirs[0] == 401
    finally:
        await library.close()
        await ours.close()


# -- our socket: every packet through one outbox ----------------------------------------
@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_library_packets_and_ours_go_out_in_one_order(srv: Sio, transport: str) -> None:
    # python-socketio's sockets are ours (the _engineio_server_class hook); every packet
    # the libraries send (OPEN, CONNECT, events, ACK, DISCONNECT) reaches our socket's
    # send(), so it shares the outbox (and its order) with what fan-out sends
    client, got = _client()
    gone = asyncio.Event()
    client.on("disconnect", lambda *reason: gone.set())
    await client.connect(srv.site.url, transports=[transport], wait_timeout=5)
    sid = client.get_sid()
    conn = srv.sio.connection_of(sid)
    assert isinstance(conn, EngineIOConnection) and conn.queue is None
    assert srv.sio.eio.sockets[client.eio.sid] is conn and srv.sio.outbox_of(sid) is conn.outbox
    assert await until(lambda: ("hello", {"type": "hello"}) in got)
    await srv.sio.emit("a", {"n": 1}, to=sid)  # the library's emit
    conn.outbox.send(Message("b", {"n": 2}))  # fan-out's
    await srv.sio.emit("c", {"n": 3}, to=sid)
    assert await until(lambda: len(got) >= 4), got
    assert [e for e, _ in got] == ["hello", "a", "b", "c"]
    assert await client.call("echo", {"x": 1}, timeout=5) == {"echo": {"x": 1}}  # an ACK
    await srv.sio.disconnect(sid)  # a DISCONNECT packet the client acts on
    await asyncio.wait_for(gone.wait(), 5)
    await client.disconnect()


async def test_the_connect_packet_follows_the_connect_handler(srv: Sio) -> None:
    # Gateway._open waits (a bounded number of loop turns) for is_connected before it
    # sends `connected`: python-socketio queues the CONNECT packet only once the connect
    # handler has returned, and marks the session connected right after
    ws = await RawWs.open(srv.site.url)
    srv.waited.clear()
    await ws.send("40")
    frames = await ws.recv_until('42["hello"')
    assert frames[0].startswith("40{") and frames[-1].startswith('42["hello"'), frames
    assert srv.connected_inside[-1] is False
    assert srv.waited and srv.waited[-1] < 100  # Gateway._open gives up after 100
    await ws.close()


async def test_a_refused_connect_carries_our_error_body() -> None:
    # framing.Refused: python-socketio sends the exception's error_args as the
    # CONNECT_ERROR data; clients see {code, message} (and data: {code, message})
    s = Sio()
    await s.site.start()
    try:
        ws = await RawWs.open(s.site.url)
        await ws.send('40{"refuse":true}')
        frame = await ws.recv()
        assert frame is not None and frame.startswith("44"), frame
        body = json.loads(frame[2:])
        assert body == Refused(AuthFailed("refused by the test")).error_args
        assert body["code"] == "auth_failed" and body["data"]["code"] == "auth_failed"
        await ws.close()
        client, _ = _client()
        errors: list[Any] = []
        client.on("connect_error", errors.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(s.site.url, auth={"refuse": True}, transports=["websocket"],
                                 wait_timeout=5)
        assert errors and errors[0]["code"] == "auth_failed"
    finally:
        await s.sio.shutdown()
        await s.site.close()


async def test_the_catch_all_handler_gets_unknown_event_names(srv: Sio) -> None:
    # Gateway.on_unknown is python-socketio's "*" handler: (event, sid, *args)
    client, _ = _client()
    await client.connect(srv.site.url, transports=["websocket"], wait_timeout=5)
    await client.emit("no_such_event", {"a": 1})
    assert await until(lambda: ("no_such_event", client.get_sid(), {"a": 1}) in srv.unknown)
    await client.disconnect()


async def test_the_upgrade_from_polling_goes_to_our_websocket(srv: Sio) -> None:
    # the library's handle_get_request hands the upgrade to our socket's websocket
    # handler, and the held long-poll GET is ended so the client can finish upgrading
    client, got = _client()
    await client.connect(srv.site.url, transports=["polling", "websocket"], wait_timeout=5)
    sid = client.get_sid()
    assert await until(lambda: srv.sio.transport(sid) == "websocket")
    conn = srv.sio.connection_of(sid)
    assert conn is not None and conn.upgraded
    conn.outbox.send(Message("after_upgrade", {}))
    assert await until(lambda: ("after_upgrade", {}) in got)
    assert await client.call("echo", 2, timeout=5) == {"echo": 2}
    await client.disconnect()


# -- pings are timers, driven by the library's PONG handling and timeout sweep -----------
async def test_pings_are_timers_and_a_silent_client_is_dropped(srv: Sio) -> None:
    ws = await RawWs.open(srv.site.url)
    await ws.send("40")
    await ws.recv_until('42["hello"')
    sid = ws.opened["sid"]
    for _ in range(2):  # each PONG schedules the next PING (the library calls schedule_ping)
        assert await ws.recv(timeout=3) == "2"
        await ws.send("3")
    conn = srv.sio.eio.sockets[sid]
    assert isinstance(conn, EngineIOConnection)
    # no answer: the library's sweep closes it with a CLOSE packet, then the transport ends
    frames = []
    while (frame := await ws.recv(timeout=8)) is not None:
        frames.append(frame)
    assert frames[-1:] == ["1"] and conn.closed, frames
    assert await until(lambda: sid not in srv.sio.eio.sockets)
    await ws.close()


def _library_tasks(eio: Any) -> list[str]:
    """The running tasks of python-engineio's or python-socketio's code working for the
    Engine.IO server ``eio`` (itself, or one of its sockets)."""
    names = []
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        code, frame = getattr(coro, "cr_code", None), getattr(coro, "cr_frame", None)
        if code is None or frame is None:
            continue
        if "/engineio/" not in code.co_filename and "/socketio/" not in code.co_filename:
            continue
        owner = frame.f_locals.get("self")
        if owner is eio or getattr(owner, "server", None) is eio:
            names.append(code.co_qualname)
    return names


async def test_no_task_per_connection(srv: Sio) -> None:
    # the library's socket runs a writer task and a ping task per connection; ours
    # writes synchronously and pings from a timer: only the server's service task
    clients = [await RawWs.open(srv.site.url) for _ in range(20)]
    for ws in clients:
        await ws.send("40")
    for ws in clients:
        await ws.recv_until('42["hello"')
    assert len(srv.sio.eio.connections()) >= len(clients)
    assert _library_tasks(srv.sio.eio) == ["AsyncServer._service_task"]
    for ws in clients:
        await ws.close()
    sids = {ws.opened["sid"] for ws in clients}
    assert await until(lambda: not sids & set(srv.sio.eio.sockets))
