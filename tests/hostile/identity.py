"""Helpers for the identity attacks: CLI runs, raw database reads, socket waits."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from typing import Any

from tests.support import Client, Server


def cli(server: Server, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``hts-realtime ARGS`` on the server's database: another process, as an operator runs it."""
    owner = getattr(server, "engine", server)  # a cluster: the engine's database
    return subprocess.run([sys.executable, "-m", "hts_realtime", *args], env=owner.env(),
                          cwd=owner.workdir, input=stdin, capture_output=True, text=True,
                          timeout=60, check=False)


def db_rows(server: Server, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read the server's database the way an operator's sqlite3 shell would."""
    conn = sqlite3.connect(server.database, timeout=10)
    try:
        return list(conn.execute(sql, args).fetchall())
    finally:
        conn.close()


def db_write(server: Server, sql: str, *args: Any) -> None:
    conn = sqlite3.connect(server.database, timeout=10)
    try:
        with conn:
            conn.execute(sql, args)
    finally:
        conn.close()


async def closed_with(client: Client, code: str, timeout: float = 5.0) -> dict[str, Any]:
    """Wait for the server to close ``client``'s session with ``code``, and the socket to go."""
    (closed,) = await client.wait_for("error", timeout=timeout)
    assert closed["code"] == code, closed
    assert closed["type"] == "error" and closed["event"] is None and closed["message"]
    for _ in range(int(timeout / 0.02)):
        if not client.sio.connected:
            break
        await asyncio.sleep(0.02)
    assert not client.sio.connected, "the session was announced closed but the socket stayed"
    return dict(closed)


async def still_open(client: Client) -> None:
    """A later request on the same connection is answered: the session was not closed."""
    ack = await client.call("ping", {"timestamp": "still-open"})
    assert ack["ok"] is True and ack["timestamp"] == "still-open"
    assert not client.events["error"]
