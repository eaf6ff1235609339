"""What the engine asks of its database, whichever it is (SQLite or PostgreSQL).

The engine keeps its trading state in memory and decides every request
there; what it writes is a list of statements (``Write``) that must commit
together. ``Store.commit`` runs such a list in one transaction, first checking
the leadership ``Fence`` (fencing: a transaction of a leader that lost its
lease aborts with ``StaleLeader`` and writes nothing), and returns only when
the transaction is durable as the store promises (``Store.durability``).
Reads are async too: on PostgreSQL every query is a network round trip that
must not block the event loop.

SQL is written once, in the subset both dialects share: ``?`` placeholders
(the PostgreSQL store numbers them), ``INSERT ... ON CONFLICT (...) DO
NOTHING / DO UPDATE`` with table-qualified columns on the right of ``SET``,
``RETURNING``. The database's clock in milliseconds, for leases, is
``Store.now_ms`` (an SQL expression).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Params = Sequence[Any]
Write = tuple[str, Params]


class Row(Protocol):
    """A result row: ``sqlite3.Row`` and ``asyncpg.Record`` both index by name or position."""

    def __getitem__(self, key: str | int, /) -> Any: ...


class StaleLeader(Exception):
    """The fencing check failed: another engine took the lease; nothing was written."""


class StoreUnavailable(Exception):
    """The database could not be reached or the transaction's outcome is unknown."""


@dataclass(frozen=True, slots=True)
class Fence:
    """The lease a write transaction must still hold: ``leases.epoch`` of ``name``."""

    name: str
    epoch: int


class Store(Protocol):
    dialect: str
    now_ms: str  # SQL: the database's clock, in ms since the Unix epoch

    async def start(self) -> None:
        """Connect and bring the schema to this version (idempotent)."""

    @property
    def durability(self) -> str:
        """What a returned ``commit`` promises, in words (status pages, README)."""

    async def commit(self, writes: Sequence[Write], fence: Fence | None = None) -> None:
        """All of ``writes`` in one transaction, after the fence check; durable on return.

        Raises ``StaleLeader`` (fence failed, nothing written), ``StoreUnavailable``
        (connection lost; the outcome may be unknown), or the driver's error for a
        statement that failed (nothing written)."""

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One statement in its own transaction; the number of rows it changed."""

    async def write_returning(self, sql: str, params: Params = ()) -> Row | None:
        """One writing statement with ``RETURNING`` in its own transaction; its first row."""

    async def fetch(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetchrow(self, sql: str, params: Params = ()) -> Row | None: ...

    async def close(self) -> None: ...


def placeholders(n: int) -> str:
    """``?, ?, ?`` for an ``IN (...)`` of ``n`` values (both dialects)."""
    return ", ".join("?" * n)


def chunks(values: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    """``values`` in slices of at most ``size`` (SQLite allows 32,766 parameters)."""
    return [values[i:i + size] for i in range(0, len(values), size)]


_TABLE = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)


def table_of(sql: str) -> str | None:
    """The one table a write statement changes, or None when that is not plain to see
    (a subquery, anything else): such a statement is never moved."""
    m = _TABLE.match(sql)
    if m is None or "select" in sql.lower():
        return None
    return m.group(1).lower()


def grouped(writes: Sequence[Write]) -> list[tuple[str, list[Params]]]:
    """A group's writes as few ``executemany`` calls: a write joins the last earlier
    call of the same statement when nothing since then touched its table. So a batch of
    N orders (each: accounts, orders, user_streams, events, outbox) is one call per
    statement, not N of each (on PostgreSQL each call is a round trip).

    What this keeps: the order of the writes to each table, exactly (the tables have no
    foreign keys or triggers between them, so no write depends on another table's);
    a statement whose table is not plain (``table_of`` None) joins only the call right
    before it, and nothing moves across it."""
    out: list[tuple[str, list[Params]]] = []
    last_of: dict[str, int] = {}  # statement -> index in ``out`` of its latest call
    touched: dict[str, int] = {}  # table -> index in ``out`` of the latest call on it
    barrier = -1  # index of the latest statement nothing may move across
    for sql, params in writes:
        table = table_of(sql)
        at = last_of.get(sql, -1)
        if at == len(out) - 1 >= 0:  # the same statement as the call before: always safe
            out[at][1].append(params)
            continue
        if table is not None and at > barrier and touched.get(table, -1) == at:
            out[at][1].append(params)
            continue
        out.append((sql, [params]))
        index = len(out) - 1
        last_of[sql] = index
        if table is None:
            barrier = index
        else:
            touched[table] = index
    return out
