"""The engine's store on SQLite (the embedded default): WAL, one writer thread.

Writes go to one dedicated thread with its own connection, one transaction
per ``commit``: the event loop never waits for a COMMIT or its fsync (with
``synchronous=FULL`` every commit is fsynced; at a few hundred µs an fsync,
inline it would stall every client). The engine's group commit hands a whole
batch of requests to one ``commit``, so the fsync is paid once per batch.
Reads run inline on a second connection: in WAL mode a reader sees the last
committed state and never waits for the writer, and an indexed read costs a
few µs, less than a hop to a thread.

Durability (``synchronous``): ``FULL`` (default) fsyncs the WAL at every
commit, so an acknowledged write survives a power loss or kernel crash;
``NORMAL`` survives a process crash (``kill -9``) but a power loss may take
the last commits before a checkpoint.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hts_realtime.storage.db import Database
from hts_realtime.storage.store import Fence, Params, Row, StaleLeader, Write, grouped

SYNCHRONOUS = ("FULL", "NORMAL")
DURABILITY = {
    "FULL": "committed and fsynced (survives a power loss)",
    "NORMAL": "committed to the WAL, fsynced at checkpoints (survives a process crash; "
              "a power loss may lose the last commits)",
}


def _connect(path: str, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class SqliteStore:
    dialect = "sqlite"
    now_ms = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"

    def __init__(self, path: str, synchronous: str = "FULL") -> None:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}")
        Database(path).close()  # the schema, migrated to this version
        self.path = path
        self.synchronous = synchronous
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._wconn = _connect(path, synchronous)
        self._rconn = _connect(path, synchronous)
        self.commits = 0

    async def start(self) -> None:
        pass  # connected and migrated in the constructor (a local file)

    @property
    def durability(self) -> str:
        return DURABILITY[self.synchronous]

    # -- writes: on the writer thread ----------------------------------------------------
    async def commit(self, writes: Sequence[Write], fence: Fence | None = None) -> None:
        await self._in_writer(self._commit, writes, fence)

    async def execute(self, sql: str, params: Params = ()) -> int:
        result: int = await self._in_writer(self._execute, sql, params)
        return result

    async def write_returning(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = await self._in_writer(self._returning, sql, params)
        return row

    async def _in_writer(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    def _transaction(self, body: Any) -> Any:
        conn = self._wconn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body(conn)
            # COMMIT itself can fail (I/O, a full disk): the transaction is then still
            # open and must be rolled back like any other error
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.commits += 1
        return result

    def _commit(self, writes: Sequence[Write], fence: Fence | None) -> None:
        def body(conn: sqlite3.Connection) -> None:
            if fence is not None:
                # inside BEGIN IMMEDIATE: no takeover can commit between this check
                # and our COMMIT (SQLite has one writer at a time)
                row = conn.execute("SELECT epoch FROM leases WHERE name = ?",
                                   (fence.name,)).fetchone()
                if row is None or int(row[0]) != fence.epoch:
                    raise StaleLeader(f"lease {fence.name!r} is at epoch "
                                      f"{None if row is None else row[0]}, not {fence.epoch}")
            for sql, rows in grouped(writes):
                if len(rows) == 1:
                    conn.execute(sql, rows[0])
                else:
                    conn.executemany(sql, rows)
        self._transaction(body)

    def _execute(self, sql: str, params: Params) -> int:
        return int(self._transaction(lambda conn: conn.execute(sql, params).rowcount))

    def _returning(self, sql: str, params: Params) -> Row | None:
        def body(conn: sqlite3.Connection) -> Row | None:
            rows = conn.execute(sql, params).fetchall()  # read all: RETURNING completes
            return rows[0] if rows else None
        row: Row | None = self._transaction(body)
        return row

    # -- reads: inline, on the reader connection ---------------------------------------------
    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        return list(self._rconn.execute(sql, params).fetchall())

    async def fetchrow(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._rconn.execute(sql, params).fetchone()
        return row

    async def close(self) -> None:
        await self._in_writer(self._wconn.close)
        self._writer.shutdown(wait=True)
        self._rconn.close()
