"""Test support: a real server process on a free port, and real clients.

Every test talks to ``hts-realtime serve`` started as a subprocess with its
own SQLite file, exactly as an operator would run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import jwt
import socketio

ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-" + "x" * 40
ISSUER = "hts-realtime"
AUDIENCE = "hts-clients"


def die_with_parent() -> None:
    """``preexec_fn`` for every process a test starts: it gets SIGTERM when the test
    process dies, so a run killed mid-test (a timeout, ^C) leaves no server behind
    (Linux's PR_SET_PDEATHSIG; a no-op elsewhere)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``hts-realtime serve --demo`` in a subprocess."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database = str(workdir / "hts.db")
        self.port = free_port()
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HTS_")}
        env.update({
            "HTS_JWT_SECRET": SECRET,
            "HTS_DATABASE": self.database,
            "HTS_MARKET_SEED": "7",
            "HTS_MARKET_TICK_SECONDS": "0.1",
            "HTS_PRICE_INTERVAL_SECONDS": "1.0",
            "HTS_LOG_LEVEL": "INFO",
        })
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 20.0) -> Server:
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hts_realtime", "serve", "--demo", "--port", str(self.port)],
            cwd=self.workdir, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not start: {self.log()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no close frames."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- HTTP ------------------------------------------------------------------------
    def http(
        self, method: str, path: str, body: Any = None, token: str | None = None,
        headers: dict[str, str] | None = None, raw: bytes | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null"), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null"), dict(e.headers)

    def login(self, username: str = "testuser", password: str = "testpass") -> str:
        status, body, _ = self.http("POST", "/api/auth/login",
                                    {"username": username, "password": password})
        assert status == 200, body
        return str(body["access_token"])

    def add_user(self, name: str, password: str = "password1") -> str:
        """Create a user with the CLI; returns a token for it."""
        subprocess.run(
            [sys.executable, "-m", "hts_realtime", "user", "add", name, "--password", password],
            cwd=self.workdir, env=self.env(), check=True, capture_output=True,
        )
        return self.login(name, password)


def mint(claims: dict[str, Any] | None = None, *, secret: str = SECRET, alg: str = "HS256",
         drop: tuple[str, ...] = (), **overrides: Any) -> str:
    """A token signed like the server's, with any claim changed or dropped."""
    now = int(time.time())
    body: dict[str, Any] = {
        "sub": "1", "name": "testuser", "roles": [], "iss": ISSUER, "aud": AUDIENCE,
        "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex,
    }
    body.update(claims or {})
    body.update(overrides)
    for k in drop:
        body.pop(k, None)
    return jwt.encode(body, secret, algorithm=alg)


class TcpProxy:
    """A loopback TCP proxy in front of a server: the test's "mobile network".

    ``cut()`` resets every open connection (RST, no WebSocket close frame);
    ``blackhole()`` silently stops forwarding on every open connection, as a
    dead radio link does. New connections always go through.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: list[_Link] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        link = _Link(writer, up_writer)
        self._links.append(link)
        link.tasks = [asyncio.create_task(link.pipe(reader, up_writer)),
                      asyncio.create_task(link.pipe(up_reader, writer))]

    def cut(self) -> None:
        for link in self._links:
            link.abort()
        self._links.clear()

    def blackhole(self) -> None:
        for link in self._links:
            link.dead = True
        self._links.clear()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()


class _Link:
    def __init__(self, a: asyncio.StreamWriter, b: asyncio.StreamWriter) -> None:
        self.a, self.b = a, b
        self.dead = False
        self.tasks: list[asyncio.Task[None]] = []

    async def pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                if not self.dead:
                    dst.write(data)
                    await dst.drain()
        except (ConnectionError, OSError):
            pass
        if not self.dead:
            self.abort()

    def abort(self) -> None:
        self.a.transport.abort()
        self.b.transport.abort()


class Client:
    """A python-socketio AsyncClient that records every event it receives."""

    def __init__(self, **kwargs: Any) -> None:
        self.sio = socketio.AsyncClient(reconnection=False, **kwargs)
        self.events: dict[str, list[Any]] = defaultdict(list)
        self.order: list[tuple[str, Any]] = []
        self._arrived = asyncio.Event()
        self.connect_error: Any = None

        @self.sio.on("*")
        async def _any(event: str, *args: Any) -> None:
            data = args[0] if args else None
            self.events[event].append(data)
            self.order.append((event, data))
            self._arrived.set()

        @self.sio.event
        async def connect_error(data: Any) -> None:
            self.connect_error = data

    async def connect(self, url: str, *, auth: Any = None, transports: list[str] | None = None,
                      headers: dict[str, str] | None = None, query: str = "") -> Client:
        await self.sio.connect(url + query, auth=auth, transports=transports or ["websocket"],
                               headers=headers or {}, wait_timeout=10)
        return self

    async def call(self, event: str, data: Any = None, timeout: float = 10) -> Any:
        return await self.sio.call(event, data, timeout=timeout)

    async def wait_for(self, event: str, count: int = 1, timeout: float = 10.0) -> list[Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.events[event]) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(
                    f"waited {timeout}s for {count} {event!r}, got {len(self.events[event])}; "
                    f"saw {[e for e, _ in self.order][-20:]}"
                )
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        return self.events[event]

    async def disconnect(self) -> None:
        if self.sio.transport() == "polling":
            # python-socketio's client waits out the held long-poll GET (~30 s) on a
            # graceful disconnect; abort the read loop instead.
            await self.sio.eio.disconnect(abort=True)
            return
        await self.sio.disconnect()
