"""The engine's store on PostgreSQL (``HTS_DATABASE_URL=postgresql://...``), over asyncpg.

asyncpg is asyncio-native (nothing blocks the event loop), speaks the binary
protocol, caches prepared statements per connection, and pipelines
``executemany``: a group commit of N orders is a few round trips, not N per
statement. Every asyncpg call of the project is in this module.

Durability: ``synchronous_commit`` (default ``on``): a returned commit is
flushed to the server's WAL on disk; ``off`` acknowledges before the flush (a
server crash may lose the last ~600 ms of commits, never corrupting them).
Replication to a standby server is PostgreSQL's own business
(``synchronous_standby_names``), not this module's.

Sessions carry ``idle_in_transaction_session_timeout``: an engine frozen
(SIGSTOP, a partition) in the middle of a transaction holds the lease row
``FOR SHARE``, and the server ends that session so a standby's takeover is
not blocked for longer than the timeout.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from typing import Any

import asyncpg

from hts_realtime.storage import migrations
from hts_realtime.storage.store import (
    Fence,
    Params,
    Row,
    StaleLeader,
    StoreUnavailable,
    Write,
    grouped,
)

# errors that mean the connection, not the statement, failed
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError, TimeoutError, asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError, asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError, asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.IdleInTransactionSessionTimeoutError,
)
MIGRATION_LOCK = zlib.crc32(b"hts-realtime migrations")
DURABILITY = {
    "on": "committed and flushed to PostgreSQL's WAL on disk (survives a server crash)",
    "off": "committed, WAL flushed within ~3 × wal_writer_delay (a server crash may lose "
           "the last commits)",
}
_PLACEHOLDER = re.compile(r"\?")


def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, ...`` (our SQL has no ``?`` in literals)."""
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda m: f"${next(counter)}", sql)


class PostgresStore:
    dialect = "postgresql"
    now_ms = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

    def __init__(self, url: str, *, synchronous_commit: str = "on", pool_size: int = 8,
                 idle_in_transaction_ms: int = 2000, connect_timeout: float = 2.0) -> None:
        """Nothing connects until ``start`` (inside the running loop)."""
        if synchronous_commit not in DURABILITY:
            raise ValueError(f"synchronous_commit must be one of {', '.join(DURABILITY)}")
        self._url = url
        self.synchronous_commit = synchronous_commit
        self._pool_size = pool_size
        self._idle_ms = idle_in_transaction_ms
        self._connect_timeout = connect_timeout
        self._pool_or_none: asyncpg.Pool | None = None
        self._sql: dict[str, str] = {}
        self.commits = 0

    @classmethod
    async def open(cls, url: str, **options: Any) -> PostgresStore:
        store = cls(url, **options)
        await store.start()
        return store

    async def start(self) -> None:
        if self._pool_or_none is not None:
            return
        try:
            self._pool_or_none = await asyncpg.create_pool(
                self._url, min_size=0, max_size=self._pool_size, timeout=self._connect_timeout,
                command_timeout=10, server_settings={
                    "application_name": "hts-realtime",
                    "synchronous_commit": self.synchronous_commit,
                    "idle_in_transaction_session_timeout": str(self._idle_ms),
                })
        except CONNECTION_ERRORS as exc:
            raise StoreUnavailable(f"PostgreSQL unreachable: {exc}") from exc
        await self.migrate()

    @property
    def _pool(self) -> asyncpg.Pool:
        if self._pool_or_none is None:
            raise StoreUnavailable("the PostgreSQL store was not started")
        return self._pool_or_none

    @property
    def durability(self) -> str:
        return DURABILITY[self.synchronous_commit]

    def _pg(self, sql: str) -> str:
        out = self._sql.get(sql)
        if out is None:
            out = self._sql[sql] = numbered(sql)
        return out

    async def migrate(self) -> None:
        """Apply the migrations this database lacks; two engines starting at once take
        turns (a transaction-scoped advisory lock)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT)")
            version = await conn.fetchval("SELECT version FROM schema_version")
            if version is None:
                await conn.execute("INSERT INTO schema_version VALUES (0)")
                version = 0
            for index in range(int(version), migrations.VERSION):
                await conn.execute(migrations.postgresql(index))
            await conn.execute("UPDATE schema_version SET version = $1", migrations.VERSION)

    # -- writes ------------------------------------------------------------------------
    async def commit(self, writes: Sequence[Write], fence: Fence | None = None) -> None:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                if fence is not None:
                    # FOR SHARE: a takeover's UPDATE of this row waits for our COMMIT,
                    # and once it has committed, this read sees the new epoch
                    epoch = await conn.fetchval(
                        "SELECT epoch FROM leases WHERE name = $1 FOR SHARE", fence.name)
                    if epoch != fence.epoch:
                        raise StaleLeader(f"lease {fence.name!r} is at epoch {epoch}, "
                                          f"not {fence.epoch}")
                for sql, rows in grouped(writes):
                    if len(rows) == 1:
                        await conn.execute(self._pg(sql), *rows[0])
                    else:
                        await conn.executemany(self._pg(sql), rows)
        except CONNECTION_ERRORS as exc:
            raise StoreUnavailable(f"PostgreSQL: {exc!r}") from exc
        self.commits += 1

    async def execute(self, sql: str, params: Params = ()) -> int:
        status = await self._call("execute", sql, params)
        # "UPDATE 1", "INSERT 0 1", "DELETE 3": the count is the last word
        tail = str(status).rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def write_returning(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = await self._call("fetchrow", sql, params)
        return row

    # -- reads -------------------------------------------------------------------------
    async def fetch(self, sql: str, params: Params = ()) -> list[Row]:
        rows: list[Row] = await self._call("fetch", sql, params)
        return rows

    async def fetchrow(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = await self._call("fetchrow", sql, params)
        return row

    async def _call(self, method: str, sql: str, params: Params) -> Any:
        try:
            async with self._pool.acquire() as conn:
                return await getattr(conn, method)(self._pg(sql), *params)
        except CONNECTION_ERRORS as exc:
            raise StoreUnavailable(f"PostgreSQL: {exc!r}") from exc

    async def close(self) -> None:
        if self._pool_or_none is not None:
            await self._pool_or_none.close()
