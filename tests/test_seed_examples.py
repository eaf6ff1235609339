"""The seed's own clients (clients/seed/), run unchanged against a real server.

The Python example runs with the ``websockets`` package, the JavaScript one
under Node with the ``ws`` package as ``WebSocket``; both must print the
seed's sequence: ``connected``, ``subscribed``, then a ``price_update`` every
second. The walk-through prints the seed's whole "예상 출력".
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import os
import re
import shutil
import sys
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import ROOT, Server

# the design doc sits in ../shared/seed/ beside the checkout (or beside a worktree's parent)
SEED_DIRS = (ROOT.parent / "shared" / "seed", ROOT.parent.parent / "shared" / "seed")
EXAMPLES = ROOT / "clients" / "seed"


class Output:
    """A client subprocess's stdout, line by line, with each line's arrival time."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[tuple[float, str]] = []

    async def read_until(self, done: Callable[[list[tuple[float, str]]], bool],
                         timeout: float = 30.0) -> list[tuple[float, str]]:
        assert self.proc.stdout is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done(self.lines):
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"output so far: {[t for _, t in self.lines]}")
            try:
                raw = await asyncio.wait_for(self.proc.stdout.readline(), left)
            except TimeoutError:
                continue
            if not raw:
                err = await self.proc.stderr.read() if self.proc.stderr else b""
                raise AssertionError(f"client exited: {[t for _, t in self.lines]} "
                                     f"{err.decode(errors='replace')}")
            self.lines.append((loop.time(), raw.decode().rstrip("\n")))
        return self.lines

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        with contextlib.suppress(ProcessLookupError):
            await self.proc.wait()


async def start(*cmd: str, server: Server, token: str) -> Output:
    # the server as one URL (HTS_URL), as every client takes it; HTS_HOST/HTS_PORT would do too
    env = {**os.environ, "HTS_TOKEN": token, "HTS_URL": server.url, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    return Output(proc)


def check_sequence(messages: list[tuple[float, dict[str, Any]]]) -> None:
    """connected, subscribed, then price_update about once a second."""
    kinds = [m["type"] for _, m in messages]
    assert kinds[:2] == ["connected", "subscribed"], kinds
    assert set(kinds[2:]) == {"price_update"}, kinds
    hello = messages[0][1]
    assert (hello["type"], hello["message"], hello["user_id"]) == (
        "connected", "Welcome testuser!", "1")
    assert messages[1][1] == {"type": "subscribed", "topic": "price:005930",
                              "message": "Successfully subscribed to price:005930"}
    updates = messages[2:]
    assert all(m["symbol"] == "005930" and isinstance(m["data"]["price"], int)
               for _, m in updates)
    # a stream at the seed's 1 s period, not a burst: 4 updates span about 3 periods
    span = updates[3][0] - updates[0][0]
    assert 2.0 < span < 6.0, span


async def test_the_seeds_python_example_unchanged(server: Server, token: str) -> None:
    out = await start(sys.executable, "-m", "clients.seed", "clients/seed/example.py",
                      server=server, token=token)
    try:
        lines = await out.read_until(lambda ls: len(ls) >= 6)
    finally:
        await out.stop()
    check_sequence([(t, ast.literal_eval(text)) for t, text in lines])  # print(dict) output


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node")
async def test_the_seeds_javascript_example_unchanged_under_node_ws(
        server: Server, token: str) -> None:
    out = await start("node", "clients/seed/example.mjs", server=server, token=token)
    try:
        lines = await out.read_until(lambda ls: sum(1 for _, t in ls if t == "}") >= 6)
    finally:
        await out.stop()
    # console.log(data) prints util.inspect blocks: "{" ... "}" at column 0
    messages: list[tuple[float, dict[str, Any]]] = []
    block: list[str] = []
    for t, text in lines:
        block.append(text)
        if text == "}":
            messages.append((t, _inspected("\n".join(block))))
            block = []
    check_sequence(messages)


def _inspected(text: str) -> dict[str, Any]:
    """The fields of one util.inspect'ed message that the checks read."""
    def field(name: str) -> str | None:
        m = re.search(rf"^\s*{name}: '([^']*)'", text, re.M)
        return m.group(1) if m else None

    out: dict[str, Any] = {k: v for k in ("type", "message", "user_id", "topic", "symbol")
                           if (v := field(k)) is not None}
    price = re.search(r"^\s*price: (\d+),?$", text, re.M)
    if price:
        out["data"] = {"price": int(price.group(1))}
    return out


async def test_the_seeds_walkthrough_prints_the_expected_output(
        make_server: Callable[..., Server]) -> None:
    srv = make_server().start()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clients.seed.walkthrough", "--url", srv.url, "--seconds", "4",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, stderr.decode()
    text = stdout.decode()
    expected = [
        r"=== Login ===",
        r"Access Token: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9\S*\.\.\.",
        r"",
        r"=== WebSocket Connection ===",
        r'Received: \{"type":"connected","message":"Welcome testuser!","user_id":"1",.*\}',
        r"",
        r"=== Subscribe to Price ===",
        r'Received: \{"type":"subscribed","topic":"price:005930",'
        r'"message":"Successfully subscribed to price:005930"\}',
        r"",
        r"=== Get Current Price ===",
        r'Received: \{"type":"price","symbol":"005930",.*"data":\{"price":\d+,"open":\d+,.*\}\}',
        r"",
        r"=== Real-time Price Updates \(4 seconds\) ===",
    ]
    lines = text.splitlines()
    for pattern, line in zip(expected, lines, strict=False):
        assert re.fullmatch(pattern, line), (pattern, line)
    rest = lines[len(expected):]
    updates = [ln for ln in rest if ln.startswith("[")]
    assert len(updates) >= 3, text
    for i, line in enumerate(updates, 1):
        assert re.fullmatch(rf"\[{i}\] 005930: \d{{1,3}}(,\d{{3}})*원 \([+-]\d+\.\d\d%\)", line)
    assert rest[len(updates):] == [
        "",
        "=== WebSocket Status ===",
        "Active Connections: 1",
        "Active Users: ['1']",
        "Price Streamer: Running",
        "Subscriptions: {'price:005930': ['1']}",
    ], text


# -- the examples are the seed's text ------------------------------------------------------
def _seed_block(title: str) -> str:
    docs = [doc for d in SEED_DIRS if d.is_dir() for doc in sorted(d.glob("*.txt"))]
    if not docs:
        pytest.skip("the seed design doc (../shared/seed/) is not beside this checkout")
    text = docs[0].read_text(encoding="utf-8")
    m = re.search(rf"#### {re.escape(title)}\n```\w+\n(.*?)```", text, re.S)
    assert m, title
    return m.group(1)


@pytest.mark.parametrize(("title", "file", "seed_url", "our_url"), [
    ("Python 예제", "example.py", "ws://localhost:8000/api/ws?token={access_token}",
     "{BASE.replace('http', 'ws', 1)}/api/ws?token={access_token}"),
    ("JavaScript 예제", "example.mjs", "ws://localhost:8000/api/ws?token=${accessToken}",
     '${BASE.replace(/^http/, "ws")}/api/ws?token=${accessToken}'),
])
def test_the_examples_are_the_seeds_text(title: str, file: str, seed_url: str,
                                         our_url: str) -> None:
    seed = _seed_block(title)
    ours = (EXAMPLES / file).read_text(encoding="utf-8")
    assert seed.replace(seed_url, our_url) in ours
    assert seed_url in seed
